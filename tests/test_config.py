import pytest

from rag.config import load_settings
from rag.errors import ConfigError


def test_defaults_are_valid():
    settings = load_settings()
    assert settings.model == "default" and settings.chunk_overlap < settings.chunk_size


def test_env_var_sets_a_field_and_flag_overrides_it(monkeypatch):
    monkeypatch.setenv("RAG_TOP_K", "9")
    assert load_settings().top_k == 9
    assert load_settings(top_k="3").top_k == 3


@pytest.mark.parametrize(("field", "value", "words"), [
    ("chunk_size", "abc", "RAG_CHUNK_SIZE"),
    ("chunk_size", "8", "greater than or equal to 32"),
    ("model", "gpt-9", "http(s):// URL"),
    ("chroma_port", "70000", "RAG_CHROMA_PORT"),
    ("auth", "nopassword", "user:password"),
])
def test_bad_value_names_the_setting_and_why(field, value, words):
    with pytest.raises(ConfigError) as caught:
        load_settings(**{field: value})
    assert words in str(caught.value)


def test_overlap_must_be_below_size():
    with pytest.raises(ConfigError, match="chunk_overlap"):
        load_settings(chunk_size=64, chunk_overlap=64)


def test_bad_env_var_fails_at_start(monkeypatch):
    monkeypatch.setenv("RAG_EVIDENCE_K", "-1")
    with pytest.raises(ConfigError, match="RAG_EVIDENCE_K"):
        load_settings()


def test_model_url_accepted():
    assert load_settings(model="http://127.0.0.1:8080/v1").model.startswith("http")
