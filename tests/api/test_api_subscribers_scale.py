"""10,000 subscribers: the list is paginated and filterable, and stays quick."""

from __future__ import annotations

import time

import pytest

from genweb import store
from genweb.catalogue import PAGES
from genweb.store import db, ops  # ops: the store's sort and uniqueness helpers, for a bulk load
from genweb.store.models import Record, RecordKey

COUNT = 10_000
SUBSCRIBERS = PAGES["subscribers"]


def bulk_subscribers(count: int) -> None:
    """Load ``count`` valid subscribers in one transaction, as the store would save them
    (cleaned by the catalogue, index order, uniqueness index); one create_record per
    subscriber would commit 10,000 times."""
    records = []
    for number in range(count):
        values = {"username": f"{number:05d}", "domain": f"site{number % 10}.example.com",
                  "password": f"pw{number}"}
        cleaned, errors = SUBSCRIBERS.validate(values)
        assert not errors
        records.append(Record(kind=SUBSCRIBERS.name, data=cleaned,
                              sort_key=ops._sort_key(SUBSCRIBERS, cleaned)))
    db.session.add_all(records)
    db.session.flush()
    db.session.add_all(RecordKey(kind=SUBSCRIBERS.name, name=name, value=value, record_id=r.id)
                       for r in records
                       for name, value in ops._unique_values(SUBSCRIBERS, r.data).items())
    db.session.commit()


@pytest.fixture
def many(app):
    with app.app_context():
        bulk_subscribers(COUNT)
    return app


def test_ten_thousand_subscribers_are_paginated_and_filterable(many, client):
    started = time.monotonic()
    first = client.get("/api/subscribers").get_json()
    assert first["total"] == COUNT and first["offset"] == 0 and first["limit"] == 100
    assert [item["values"]["username"] for item in first["items"]] == [
        f"{n:05d}" for n in range(100)]

    last = client.get("/api/subscribers?offset=9990&limit=1000").get_json()
    assert [item["values"]["username"] for item in last["items"]] == [
        f"{n:05d}" for n in range(9990, COUNT)]
    beyond = client.get("/api/subscribers?offset=20000").get_json()
    assert beyond["items"] == [] and beyond["total"] == COUNT

    seen, offset = set(), 0
    while offset < COUNT:  # every record exactly once, page by page
        page = client.get(f"/api/subscribers?offset={offset}&limit=1000").get_json()
        seen |= {item["id"] for item in page["items"]}
        offset += 1000
    assert len(seen) == COUNT

    def usernames(query: str) -> list[str]:
        listing = client.get(f"/api/subscribers?limit=1000&{query}").get_json()
        assert listing["total"] == len(listing["items"])
        return [item["values"]["username"] for item in listing["items"]]

    assert usernames("username=0042") == ["00042", *(f"0042{n}" for n in range(10))]
    assert usernames("username=004&domain=SITE7") == [
        f"{n:05d}" for n in range(COUNT) if "004" in f"{n:05d}" and n % 10 == 7]
    literal = client.get("/api/subscribers?username=%25").get_json()  # % is text, not a wildcard
    assert literal["total"] == 0
    assert time.monotonic() - started < 10

    # The bulk-loaded subscribers behave like created ones.
    duplicate = client.post("/api/subscribers", json={"username": "05000",
                                                      "domain": "site0.example.com"})
    assert duplicate.status_code == 422
    found = client.get("/api/subscribers?username=05000").get_json()["items"][0]
    assert found["secretsSet"] == {"password": True, "ha1": False, "ha1b": False}
    with many.app_context():
        assert store.get_record("subscribers", found["id"]).values["password"] == "pw5000"
