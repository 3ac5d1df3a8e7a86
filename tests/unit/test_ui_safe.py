"""safe_md and friends: hostile registry strings are shown literally, never interpreted."""

from __future__ import annotations

import re

import pytest

from trialfinder.ui.safe import code_span, find_spans, highlight_md, registry_url, safe_inline, safe_md

HOSTILE = [
    "<script>alert(1)</script>",
    "[click me](javascript:alert(1))",
    "![img](https://evil.example/x.png)",
    "costs $x$ and $$y$$",
    "*bold* **strong** _em_ __u__",
    "# heading",
    "`code` and ```fence```",
    "| a | b |\n|---|---|",
    ":red[alert] :smile: :material/home:",
    "<img src=x onerror=alert(1)>",
    "&lt;b&gt; entity &amp;",
    "~~strike~~ ^sup^ {attr}",
    "    indented code",
    "1. ordered\n- bullet\n+ plus",
    "> quote",
    "back\\slash \\*",
]


def _unescape(md: str) -> str:
    """What a CommonMark renderer shows for our escaped text (backslash escapes resolved)."""
    text = md.replace("  \n", "\n").replace("\u200b", "")
    return re.sub(r"\\(.)", r"\1", text)


def _unescaped_specials(md: str) -> list[str]:
    """Markdown-significant characters NOT preceded by a backslash (what a parser could act on)."""
    found = []
    i = 0
    while i < len(md):
        ch = md[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "<>[]()!*_`#|$:~&{}^+-=":
            found.append(ch)
        i += 1
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_md__hostile_strings_have_no_active_markup(text: str) -> None:
    md = safe_md(text)
    assert _unescaped_specials(md) == []
    assert "<" not in md.replace("\\<", "")


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_md__round_trips_to_the_original_text(text: str) -> None:
    expected = "\n".join(line.strip() for line in text.split("\n"))
    assert _unescape(safe_md(text)) == expected


def test_safe_md__emoji_shortcode_is_broken_by_zero_width_space() -> None:
    md = safe_md(":smile:")
    assert md == "\\:\u200bsmile\\:\u200b"


def test_safe_md__line_breaks_and_paragraphs() -> None:
    md = safe_md("Inclusion:\n  1. Age 18\n\n\nExclusion")
    assert md == "Inclusion\\:\u200b  \n1\\. Age 18\n\nExclusion"


def test_safe_md__missing_values() -> None:
    assert safe_md(None) == "" and safe_md(float("nan")) == "" and safe_inline(None) == ""


def test_safe_inline__one_line_and_shortened() -> None:
    assert safe_inline("a\nb  c") == "a b c"
    assert safe_inline("abcdefghij", max_chars=5) == "abcd…"
    assert _unescaped_specials(safe_inline("[x](javascript:alert(1))")) == []


def test_find_spans__case_and_whitespace_insensitive_and_merged() -> None:
    text = "No prior anti-PD-1\n therapy. Prior ANTI-PD-1 therapy allowed."
    spans = find_spans(text, ["prior anti-PD-1 therapy", "anti-pd-1"])
    assert [text[a:b] for a, b in spans] == ["prior anti-PD-1\n therapy", "Prior ANTI-PD-1 therapy"]


def test_highlight_md__bolds_evidence_and_escapes_the_rest() -> None:
    text = "1. ECOG 0-1\n2. No prior *checkpoint* inhibitor <b>therapy</b>\n3. Age >= 18"
    md, n = highlight_md(text, ["No prior *checkpoint* inhibitor"])
    assert n == 1
    assert "**No prior \\*checkpoint\\* inhibitor**" in md
    assert "\\<b\\>therapy\\<\\/b\\>" in md
    assert md.count("**") == 2  # only our own markers
    outside = md.replace("**No prior \\*checkpoint\\* inhibitor**", "")
    assert _unescaped_specials(outside) == []


def test_highlight_md__evidence_across_a_line_break_is_bolded_per_line() -> None:
    md, n = highlight_md("prior immune\ncheckpoint therapy", ["prior immune checkpoint"])
    assert n == 1
    assert md == "**prior immune**  \n**checkpoint** therapy"


def test_highlight_md__no_needles_is_safe_md() -> None:
    text = "a *b*\n\nc"
    assert highlight_md(text, []) == (safe_md(text), 0)


def test_registry_url__only_from_valid_nct_ids() -> None:
    assert registry_url(" nct02899299 ") == "https://clinicaltrials.gov/study/NCT02899299"
    with pytest.raises(ValueError):
        registry_url("javascript:alert(1)")


def test_safe_md__wrapped_text_joins_lines_but_keeps_list_items() -> None:
    text = "Patients with disease\nof the pleura:\n1. first item\nwrapped here\n- second item"
    md = safe_md(text, hard_breaks=False)
    expected = (
        "Patients with disease of the pleura\\:\u200b  \n1\\. first item wrapped here  \n\\- second item"
    )
    assert md == expected


def test_highlight_md__wrapped_text_mode_matches_safe_md() -> None:
    text = "Patients with disease\nof the pleura:\n1. first item\nwrapped here\n\n- second item"
    assert highlight_md(text, [], hard_breaks=False) == (safe_md(text, hard_breaks=False), 0)
    md, n = highlight_md(text, ["first item wrapped"], hard_breaks=False)
    assert n == 1 and "1\\. **first item**  " not in md and "**first item** **wrapped**" in md


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![i](http://e/x.png) $e$", "`![i](http://e/x.png) $e$`"),
        ("a`b", "``a`b``"),
        ("``x", "``` ``x ```"),
        ("two\nlines", "`two lines`"),
        ("", "` `"),
        (None, ""),
    ],
)
def test_code_span__verbatim_with_a_longer_fence(text: str | None, expected: str) -> None:
    assert code_span(text) == expected
