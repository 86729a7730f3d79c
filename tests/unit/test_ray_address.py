"""``cluster scan --address``: the shapes Ray takes, and a ray:// address without Ray's client
package named as the install it needs (issue 24 item 21)."""

from __future__ import annotations

import importlib.util

import pytest

from blipdesk.core import cluster
from blipdesk.infra.errors import UserError


@pytest.mark.parametrize(
    "address", [None, "auto", "10.0.0.5:6379", "head.example.org:6379", "[::1]:6379"]
)
def test_addresses_ray_takes_pass(address):
    cluster.check_address(address)


@pytest.mark.parametrize(
    "address",
    ["", "ray://", "ray://host", "host", "host:0", "host:65536", "-host:1", "a b:1", "ray://h:x",
     "http://h:1", "auto:x", "ray://h:1/path", "h:1\n"],
)  # fmt: skip
def test_other_shapes_are_refused_in_one_line(address):
    with pytest.raises(UserError, match="is not a Ray address") as refused:
        cluster.check_address(address)
    assert "\n" not in str(refused.value)


def test_a_client_address_without_the_client_package_names_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a)
    )
    with pytest.raises(UserError, match=r"ray\[data,client\]"):
        cluster.check_address("ray://head:10001")
    cluster.check_address("head:6379")  # a head's own address needs no client


def test_a_client_address_with_the_client_package_passes(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    cluster.check_address("ray://head:10001")
