"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Expand/contract (docs/operations.md "Migrations during a canary"): this runs before the new code takes
any traffic, and in staging and prod the previous version keeps serving up to 90 % of requests for
5 minutes, or all of them again after a rollback. Check before committing:
- [ ] the previous version still works on the upgraded schema: no DROP or RENAME of a table, column,
      type or constraint it uses; a new column is NULLable or has a DEFAULT; no new NOT NULL, CHECK
      or UNIQUE the previous version's writes would break;
- [ ] a contract step (dropping what the new code no longer uses) ships one release after the code
      that stopped using it, never with it;
- [ ] long work on a big table (a backfill, an index) does not hold locks: CREATE INDEX
      CONCURRENTLY in its own non-transactional step, backfills in batches.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
