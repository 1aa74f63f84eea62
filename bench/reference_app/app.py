"""The cold-start benchmark's yardstick: a typical FastAPI + Mangum Lambda.

Deliberately conventional and left as it is, so its numbers mean the same from
run to run: five CRUD routes with pydantic models, a SQLAlchemy ORM model, and
the pg8000 engine created at import from DATABASE_URL. `handler` is the Lambda
entry (`app.handler` with this directory as the code root); the benchmark's
first request is GET /items/{id}, one SELECT through an ORM Session.

bench/coldstart.py creates the table (`Base.metadata.create_all`) and seeds
item 1; nothing else uses this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from mangum import Mangum
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "bench_reference_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    price_cents: Mapped[int] = mapped_column(nullable=False, default=0)


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    price_cents: int = Field(default=0, ge=0)


class ItemOut(ItemIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


# DB_TLS=off (the benchmark's embedded PostgreSQL has no TLS): do not ask for it, as our functions do not.
_no_tls = {"ssl_context": False} if os.environ.get("DB_TLS") == "off" else {}
engine = create_engine(os.environ["DATABASE_URL"], pool_size=1, max_overflow=0, connect_args=_no_tls)

app = FastAPI(title="reference")


def get_session() -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _get_or_404(session: Session, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "item not found")
    return item


@app.get("/items", response_model=list[ItemOut])
def list_items(session: SessionDep, limit: int = 20) -> list[Item]:
    return list(session.scalars(select(Item).order_by(Item.id).limit(limit)))


@app.get("/items/{item_id}", response_model=ItemOut)
def get_item(item_id: int, session: SessionDep) -> Item:
    return _get_or_404(session, item_id)


@app.post("/items", response_model=ItemOut, status_code=status.HTTP_201_CREATED)
def create_item(body: ItemIn, session: SessionDep) -> Item:
    item = Item(**body.model_dump())
    session.add(item)
    session.commit()
    return item


@app.put("/items/{item_id}", response_model=ItemOut)
def update_item(item_id: int, body: ItemIn, session: SessionDep) -> Item:
    item = _get_or_404(session, item_id)
    for key, value in body.model_dump().items():
        setattr(item, key, value)
    session.commit()
    return item


@app.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: int, session: SessionDep) -> None:
    session.delete(_get_or_404(session, item_id))
    session.commit()


handler = Mangum(app, lifespan="off")
