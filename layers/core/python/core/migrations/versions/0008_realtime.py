"""realtime: WebSocket tickets, connections, subscriptions, typing throttle (issue 18)

Revision ID: 0008_realtime
Revises: 0007_statement_timeout
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_realtime"
down_revision = "0007_statement_timeout"
branch_labels = None
depends_on = None

NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "realtime_tickets",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_realtime_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_realtime_tickets_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_realtime_tickets")),
    )
    op.create_index("ix_realtime_tickets_expires_at", "realtime_tickets", ["expires_at"])

    op.create_table(
        "realtime_connections",
        sa.Column("connection_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_realtime_connections_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_realtime_connections_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_realtime_connections")),
    )
    op.create_index("ix_realtime_connections_user_id", "realtime_connections", ["user_id"])
    op.create_index("ix_realtime_connections_expires_at", "realtime_connections", ["expires_at"])

    op.create_table(
        "realtime_subscriptions",
        sa.Column("connection_id", sa.String(128), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["realtime_connections.connection_id"],
            name=op.f("fk_realtime_subscriptions_connection_id_realtime_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_realtime_subscriptions_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("connection_id", "room_id", name=op.f("pk_realtime_subscriptions")),
    )
    op.create_index(
        "ix_realtime_subscriptions_room_id_connection_id", "realtime_subscriptions", ["room_id", "connection_id"]
    )

    op.create_table(
        "realtime_typing",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("typed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_realtime_typing_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_realtime_typing_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_realtime_typing")),
    )


def downgrade() -> None:
    op.drop_table("realtime_typing")
    op.drop_table("realtime_subscriptions")
    op.drop_table("realtime_connections")
    op.drop_table("realtime_tickets")
