"""docs/configuration-reference.md is the schema rendered: every key described, none stale."""

from __future__ import annotations

import inspect

from pydantic import BaseModel

from components.config import SECRET_FIELDS, reference, schema


def test_the_committed_reference_is_the_schema_rendered():
    assert reference.DOC.exists(), f"no {reference.DOC}: run `{reference.COMMAND}`"
    committed = reference.DOC.read_text()
    assert committed == reference.render(), (
        f"docs/configuration-reference.md is stale: run `{reference.COMMAND}` and commit it"
    )


def test_every_field_of_every_model_has_a_description():
    models = [
        m
        for _, m in inspect.getmembers(schema, inspect.isclass)
        if issubclass(m, BaseModel) and m.__module__ == schema.__name__ and m.model_fields
    ]
    assert schema.StackConfig in models
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name, field in m.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"fields without a description: {', '.join(missing)}"


def test_every_model_is_reached_from_the_stack_config():
    rendered = {k.path for k in reference.key_paths()}
    assert "release.keep" in rendered
    assert "web.tls.mode" in rendered
    assert "release.hooks.after_verify[].as_root" in rendered
    assert "release.notify[].url" in rendered
    assert "swarm.storage.driver_options" in rendered
    assert all(k.description.strip() for k in reference.key_paths())


def test_the_secret_fields_are_the_schemas_secret_keys():
    secret = {k.path for k in reference.key_paths() if "**secret**" in k.type}
    assert secret == {f"{top}.{path}" for top, path in SECRET_FIELDS}


def test_the_generator_prints_the_reference(capsys):
    assert reference.main([]) == 0
    assert capsys.readouterr().out == reference.render()
    assert reference.main(["--bogus"]) == 2
