"""The Serve applications are written once (composition/applications.py): `sigecve up`
runs that list, and the shipped serve_config.yaml is its output."""

from __future__ import annotations

from pathlib import Path

import yaml

from composition import applications

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_serve_config_is_the_applications_output():
    shipped = (ROOT / "serve_config.yaml").read_text()
    assert shipped == applications.serve_config_yaml(), (
        "serve_config.yaml is stale: `python -m composition.applications > serve_config.yaml`"
    )


def test_every_application_has_a_builder_serve_can_import():
    config = yaml.safe_load(applications.serve_config_yaml())
    names = [app["name"] for app in config["applications"]]
    assert names == [app.name for app in applications.APPLICATIONS]
    assert len({app.route_prefix for app in applications.APPLICATIONS}) == len(names)
    for entry in config["applications"]:
        module, attribute = entry["import_path"].split(":")
        assert module == applications.__name__
        assert getattr(applications, attribute).__name__ == entry["name"]


def test_a_builder_without_a_database_says_what_it_needs(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    try:
        applications.api({})
    except ValueError as e:
        assert "DATABASE_URL" in str(e)
    else:
        raise AssertionError("the api builder started without a database")
