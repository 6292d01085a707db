import pytest

from curate.errors import CurateError
from curate.langid import detect_language, detect_languages


def test_detects_cjk_and_english_offline() -> None:
    got = detect_languages([
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "오늘은 날씨가 좋아서 친구들과 공원에 산책을 갔습니다.",
        "今日は天気が良いので、友達と公園を散歩しました。",
        "今天天气很好，我和朋友们去公园散步了。",
        "",
    ])
    assert [lang for lang, _ in got] == ["en", "ko", "ja", "zh", "und"]
    assert all(0.5 < p <= 1.0 for _, p in got[:4])


def test_newlines_do_not_break_prediction() -> None:
    lang, _ = detect_language("Bonjour tout le monde.\nComment allez-vous aujourd'hui ?\n")
    assert lang == "fr"


def test_missing_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CurateError, match="language-ID model not found"):
        detect_language("hello", model_path=tmp_path / "nope.ftz")
