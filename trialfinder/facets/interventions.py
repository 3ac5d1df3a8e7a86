"""``intervention_classes``: what kind of treatment each intervention (and so each trial and arm) is.

Order of resolution for one intervention (first rule that applies wins, later ones add):

1. placebo / sham / vehicle names are ignored;
2. allergen products (allergen immunotherapy, SLIT, OIT ...) are ``other``;
3. curated agents (names, brands, code names) in the intervention name and other names;
4. generic patterns ("anti-PD-1 monoclonal antibody", "chimeric antigen receptor", "dendritic cell
   vaccine", "oncolytic", ...) in the name and other names;
5. curated agents named in the description (e.g. the lymphodepleting cyclophosphamide of a CAR-T
   product), skipping sentences about prior treatment;
6. generic patterns marked ``fields = "all"`` in the description when 3-4 found nothing;
7. deliberate ``other`` lists, then the intervention type (RADIATION → radiotherapy, PROCEDURE /
   DEVICE / DIAGNOSTIC_TEST / BEHAVIORAL / OTHER → other); a DRUG or BIOLOGICAL nothing resolves is
   ``other`` and flagged ``unresolved``;
8. trial level: when an intervention is unresolved, the record's MeSH intervention terms are mapped
   the same way; a trial without intervention entries is read from its arm descriptions and titles.

Immunotherapy classes from generic patterns, cytokines and vaccines apply only in cancer trials
(an allergy "vaccine" or "immunotherapy" is ``other``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from trialfinder.facets.base import Facet, Result
from trialfinder.facets.prefilter import Rx, fold
from trialfinder.facets.text import Intervention, TrialText, is_cancer_trial
from trialfinder.facets.vocabulary import CLASSES, Vocabulary, agent_matches, load, name_key

_NEG_SENT = re.compile(
    r"\b(?:prior(?! to)|previous(?:ly)?|progress\w*|refractory|failed|failure|resistant|unlike|compared|"
    r"completed|after receiving|who received|pretreated|experienced)\b",
    re.I,
)
_NEG_SENT_RX = Rx(_NEG_SENT)
_SENTENCES = re.compile(r"[^.\n]+(?:[.\n]|$)")
_NO_OTHER_NAMES = re.compile(r"no other names?", re.I)
_ARM_NAME_TYPE = re.compile(r"^[A-Za-z_ ]+:\s*")  # "Drug: " before an arm's intervention name
_ANTICANCER = frozenset(CLASSES) - {"other"}
_GMCSF = re.compile(r"GM-CSF", re.I)


@dataclass
class Hit:
    cls: str
    evidence: str  # verbatim text of the record
    mechanism: str
    source: str  # "agent" | "pattern" | "type" | "other" | "mesh"


@dataclass
class Resolution:
    hits: list[Hit]
    ignored: bool = False
    unresolved: bool = False

    @property
    def classes(self) -> list[str]:
        return _ordered(h.cls for h in self.hits)


def _ordered(classes: object) -> list[str]:
    got = set(classes)  # type: ignore[call-overload]
    return [c for c in CLASSES if c in got]


def _agent_hits(vocab: Vocabulary, text: str, cancer: bool, source: str = "agent") -> list[Hit]:
    hits: list[Hit] = []
    for m in agent_matches(vocab, text):
        agent = vocab.agent_by_key.get(name_key(m.group(0)))
        if agent is None or (agent.cancer_only and not cancer):
            continue
        for cls in (agent.cls, *agent.also):
            hits.append(Hit(cls, m.group(0), f"{agent.name}: {agent.mechanism}", source))
    return hits


def _pattern_hits(vocab: Vocabulary, text: str, cancer: bool, iv_type: str, *,
                  description: bool, folded: str | None = None) -> list[Hit]:
    """Generic patterns in ``text`` (``folded`` is ``fold(text)`` when the caller has it)."""
    gate, patterns = vocab.pattern_selection(cancer, iv_type, description)
    if folded is None:
        folded = fold(text)
    if not gate.possible(folded):
        return []
    hits: list[Hit] = []
    for p in patterns:
        m = p.rx.search(text, folded)
        if not m or (p.unless is not None and p.unless.search(text)):
            continue
        hits.append(Hit(p.cls, m.group(0), p.mechanism, "pattern"))
    return hits


def _safe_sentences(text: str) -> list[str]:
    out: list[str] = []
    for s in _SENTENCES.finditer(text):
        sent = s.group(0)
        if not _NEG_SENT_RX.search(sent, fold(sent)):
            out.append(sent)
    return out


def resolve(iv: Intervention, cancer: bool = True, vocab: Vocabulary | None = None) -> Resolution:
    """Classes of one intervention, each with the verbatim text that decided it."""
    if vocab is None or vocab is load():
        r = _resolve_packaged(iv, cancer)  # the same intervention recurs across trials and versions
        return Resolution(list(r.hits), r.ignored, r.unresolved)
    return _resolve(iv, cancer, vocab)


@lru_cache(maxsize=1 << 15)
def _resolve_packaged(iv: Intervention, cancer: bool) -> Resolution:
    return _resolve(iv, cancer, load())


def _resolve(iv: Intervention, cancer: bool, vocab: Vocabulary) -> Resolution:
    primary = [(t, fold(t)) for t in (iv.name, *iv.other_names) if t and not _NO_OTHER_NAMES.fullmatch(t)]
    name = iv.name
    folded_name = fold(name)
    if vocab.ignore_rx.search(name, folded_name) and not (
            vocab.ignore_unless_rx and vocab.ignore_unless_rx.search(name, folded_name)):
        return Resolution([], ignored=True)
    for t, f in primary:
        m = vocab.allergen_rx.search(t, f)
        if m:
            return Resolution([Hit("other", m.group(0), "allergen product", "other")])
    if not cancer and iv.description:
        m = vocab.allergen_rx.search(iv.description, fold(iv.description))
        if m:
            return Resolution([Hit("other", m.group(0), "allergen product", "other")])

    hits: list[Hit] = []
    for t, _ in primary:
        hits += _agent_hits(vocab, t, cancer)
    for t, f in primary:
        hits += _pattern_hits(vocab, t, cancer, iv.type, description=False, folded=f)
    found_primary = any(h.cls in _ANTICANCER for h in hits)
    for sent in _safe_sentences(iv.description):
        hits += _agent_hits(vocab, sent, cancer)
        extra = _pattern_hits(vocab, sent, cancer, iv.type, description=True)
        if found_primary:
            extra = [h for h in extra if h.cls == "chemotherapy" and "lymphodeplet" in h.mechanism]
        hits += extra
    # GM-CSF inside a vaccine product is the vaccine's adjuvant, not a separate immunomodulator.
    if any(h.cls == "vaccine" for h in hits):
        hits = [h for h in hits if not (h.cls == "immunomodulator" and _GMCSF.search(h.mechanism))]
    if any(h.cls in _ANTICANCER for h in hits):
        return Resolution([h for h in hits if h.cls != "other" or h.source == "agent"])
    if hits:  # curated "other" agents (celecoxib, supportive medicines)
        return Resolution(hits)
    for t, f in primary:
        for rx in vocab.other_rx:
            m = rx.search(t, f)
            if m:
                return Resolution([Hit("other", m.group(0), "non-anticancer intervention", "other")])
    if iv.type == "RADIATION":
        return Resolution([Hit("radiotherapy", name, "radiation", "type")])
    if iv.type in {"PROCEDURE", "DEVICE", "DIAGNOSTIC_TEST", "BEHAVIORAL", "OTHER", "DIETARY_SUPPLEMENT"}:
        return Resolution([Hit("other", name, f"{iv.type.lower()} intervention", "type")])
    return Resolution([Hit("other", name, "unresolved drug or biological", "type")], unresolved=True)


def classify_trial(t: TrialText, vocab: Vocabulary | None = None) -> tuple[Result, dict[str, Result]]:
    """(trial-level result, {arm label: result}). Values are class lists in ``CLASSES`` order and the
    evidence is one verbatim piece per class, in the same order."""
    vocab = vocab or load()
    cancer = is_cancer_trial(t)
    per_iv: list[tuple[Intervention, Resolution]] = [
        (iv, resolve(iv, cancer, vocab)) for iv in t.interventions]
    hits: list[Hit] = [h for _, r in per_iv for h in r.hits]
    if any(r.unresolved for _, r in per_iv):
        for term in t.mesh_interventions:
            hits += [Hit(h.cls, h.evidence, h.mechanism, "mesh") for h in _agent_hits(vocab, term, cancer)]
    if not t.interventions:
        for arm in t.arms:
            for sent in _safe_sentences(arm.description):
                hits += _agent_hits(vocab, sent, cancer)
                hits += _pattern_hits(vocab, sent, cancer, "", description=True)
        if not hits:
            for title in (t.title, t.official_title):
                hits += _agent_hits(vocab, title, cancer)
                hits += _pattern_hits(vocab, title, cancer, "", description=True)
    trial = _result(hits)
    arms: dict[str, Result] = {}
    iv_keys = [name_key(iv.name) for iv, _ in per_iv]
    for arm in t.arms:
        names = {name_key(_ARM_NAME_TYPE.sub("", n)) for n in arm.intervention_names}
        arm_hits = [h for (iv, r), key in zip(per_iv, iv_keys, strict=True) for h in r.hits
                    if arm.label in iv.arm_labels or key in names]
        if not arm_hits:
            for sent in _safe_sentences(arm.description):
                arm_hits += _agent_hits(vocab, sent, cancer)
                arm_hits += _pattern_hits(vocab, sent, cancer, "", description=True)
        arms[arm.label] = _result(arm_hits)
    return trial, arms


def _result(hits: list[Hit]) -> Result:
    classes = _ordered(h.cls for h in hits)
    evidence = tuple(next(h.evidence for h in hits if h.cls == c) for c in classes)
    return Result(classes, evidence)


def unresolved_interventions(t: TrialText, vocab: Vocabulary | None = None) -> list[Intervention]:
    """DRUG/BIOLOGICAL/... interventions of a trial that no vocabulary entry or pattern resolves."""
    vocab = vocab or load()
    cancer = is_cancer_trial(t)
    return [iv for iv in t.interventions if resolve(iv, cancer, vocab).unresolved]


def _intervention_classes(t: TrialText) -> Result:
    return classify_trial(t)[0]


INTERVENTION_CLASSES = Facet(
    name="intervention_classes",
    reads=("interventions.type", "interventions.name", "interventions.other_names",
           "interventions.description", "arms.label", "arms.description", "arms.intervention_names",
           "trials.mesh_interventions", "trials.conditions", "trials.mesh_conditions", "trials.keywords",
           "trials.title", "trials.official_title"),
    func=_intervention_classes,
    values=CLASSES,
    doc=__doc__ or "",
)
