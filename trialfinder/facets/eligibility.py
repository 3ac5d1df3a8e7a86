"""Eligibility facets: ``advanced_disease``, ``prior_immunotherapy``, ``line_of_therapy``,
``histology`` (sites and subtypes) and ``biomarkers`` (mesothelioma trials).

All rules read the criteria items (bullets / sentences) with their section (inclusion, exclusion, or
``other`` for old PDQ-style text without headings, where "No prior chemotherapy" is a requirement).
Rules are deliberately conservative: when nothing decides, the value is ``unknown``/``unstated`` with
empty evidence. No rule names a trial.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from trialfinder.facets.base import Facet, Result
from trialfinder.facets.prefilter import Gate, Rx, fold
from trialfinder.facets.text import Item, TrialText, clean_piece, is_cancer_trial, is_meso_trial, segment

_ITEM_CACHE = 1 << 16
"""Per-item rule results are cached on the item text (criteria repeat across trials and versions)."""


def _rx(src: str) -> Rx:
    """A case-insensitive pattern with a literal prefilter (``search(text, fold(text))``)."""
    return Rx(re.compile(src, re.I))


def items_of(t: TrialText) -> tuple[Item, ...]:
    return segment(t.criteria, t.inclusion, t.exclusion)


_SCOPE_HEAD = re.compile(
    r"^\W*(?:key |main |specific )?(?:phase\s*(?:[0-9]|I)|parts?\b|cohorts?\b|arms?\b|groups?\b|modules?\b|"
    r"sub-?stud(?:y|ies)\b|(?:dose[- ])?(?:escalation|expansion)\b|treatment[- ]na[iï]ve\b|"
    r"previously treated\b)[^:.;]{0,70}:?$|"
    r"^[^.:;]{0,40}\bcriteria\W{1,3}(?:for |in )?(?:phase|parts?|cohorts?|arms?|groups?|modules?|"
    r"sub-?stud\w+|dose[- ](?:escalation|expansion))\b[^.;:]{0,50}:?$|"
    r"^[^.:;]{0,40}\bcriteri(?:a|on)\W{1,3}(?:for|in) (?!all\b|every\b|any\b)[^.:;]{1,50}?\b"
    r"(?:participants|patients|subjects)\W*:?$", re.I)
"""A short line that opens the criteria of one part of the trial ("Phase 1b Key Exclusion Criteria:",
"Cohort 2:", "Module A Cohort Expansion:", "Additional Inclusion Criteria for EC Participants"; not
"Common Inclusion Criteria for All Participants")."""
_SCOPE_TAIL = re.compile(
    r"(?<=[:.] )\W*(?:phase\s*(?:[0-9]|I)|parts?\b|cohorts?\b|arms?\b|groups?\b|modules?\b)"
    r"[^:.;]{0,40}:$", re.I)
"""The same heading after a parent line on one item ("Cohort-specific inclusion criteria: Cohort 1:")."""
_SCOPE_WORDS = re.compile(r"\b(?:key|main|specific|inclusion|exclusion|criteria|criterion)\b|[^\w ]", re.I)
_LEAD = re.compile(r"^\s*([-*•·]|\d{1,2}[.)]|[a-z][.)]|[ivx]{1,4}[.)])?")
_PARENT_SPAN = 15


@dataclass(frozen=True)
class Context:
    """Where an item sits: ``scope`` (the part of the trial its heading names, normalized) and
    ``parent`` (the text of the item ending in ":" that introduces it, e.g. "Toxicity from previous
    anticancer treatment that includes:")."""

    scope: str | None = None
    parent: str = ""


@lru_cache(maxsize=4096)
def contexts(items: tuple[Item, ...]) -> tuple[Context, ...]:
    """One :class:`Context` per item: the last scope heading and the last ":" parent of its section.
    A parent governs the items after it until one starts with the parent's own bullet marker, a new
    parent or heading, a section change, or ``_PARENT_SPAN`` items."""
    out: list[Context] = []
    section = None
    scope: str | None = None
    parent, parent_lead, parent_at = "", "", -1
    for i, it in enumerate(items):
        if it.section != section:
            section, scope, parent, parent_at = it.section, None, "", -1
        flat = it.flat
        lead = _LEAD.match(flat).group(1) or ""  # type: ignore[union-attr]
        if parent and (i - parent_at > _PARENT_SPAN or (parent_lead and lead == parent_lead)):
            parent, parent_at = "", -1
        head = _SCOPE_HEAD.match(flat) or _SCOPE_TAIL.search(flat)
        if head:
            key = " ".join(_SCOPE_WORDS.sub(" ", head.group(0).lower()).split())
            scope, parent, parent_at = key or None, "", -1
            out.append(Context(scope, ""))
            continue
        out.append(Context(scope, parent))
        if flat.endswith(":"):
            parent, parent_lead, parent_at = flat, lead, i
    return tuple(out)


# ----------------------------------------------------------------------------------------- helpers

_NEGATED = _rx(
    r"\b(?:no|not(?! limited| only| restricted)|never|without|none|nor|neither|cannot|must not|may not|"
    r"should not|excluded|ineligible|"
    r"are not permi\w+|is not permi\w+|not (?:be )?(?:permi\w+|allowed|eligible)|naïve|naive|untreated|"
    r"free of)\b|\bnon-(?=metasta)"
)
_WASHOUT = _rx(
    r"(?:within|in the (?:last|past|preceding)|during the (?:last|"
    r"past)|at least|≥|>=|>|less than|<|no sooner than|"
    r"more than)\s*\(?\s*(\d+|one|two|three|four|six|eight)\)?\s*(?:\([^)]*\)\s*)?(days?|weeks?|wks?|months?|"
    r"half[- ]lives)|(\d+)\s*(days?|weeks?|months?|half[- ]lives)\s*(?:\([^)]*\)\s*)?(?:prior|before|since|"
    r"from|of|after)|washout|wash-out|since (?:last|prior|the last)|half[- ]lives|must have been completed|"
    r"have recovered|recovered from|has not recovered|resolved to|after (?:the )?last dose|"
    r"within the following (?:time )?(?:periods?|windows?|intervals?)"
)
_WORDNUM = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "eight": 8}


def _washout_only(text: str, folded: str | None = None) -> bool:
    """A time-limited clause ("no immunotherapy within 4 weeks"); windows longer than 3 months are
    a real exclusion ("no immunotherapy in the past 12 months")."""
    if folded is not None and not _WASHOUT.possible(folded):
        return False
    for m in _WASHOUT.finditer(text):
        num, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if not num:
            return True
        n = int(num) if num.isdigit() else _WORDNUM.get(num.lower(), 0)
        u = (unit or "").lower()
        if u.startswith("month") and n > 3:
            continue
        if u.startswith("year"):
            continue
        return True
    return False


def _negated_before(text: str, pos: int, window: int = 80) -> bool:
    return bool(_NEGATED.search(text[max(0, pos - window): pos]))


# ---------------------------------------------------------------------------- advanced disease

_EFFUSION_NEXT = (r"[\s,]+(?:(?:symptomatic|malignant|benign|pleural|peritoneal|exudative)[\s,]+){0,3}"
                  r"(?:effusions?|MPEs?|ascites|pneumothora\w*)")
"""After "recurrent" / "refractory": the effusion (or ascites) keeps coming back, which says nothing of
the cancer's stage ("Recurrent Malignant Pleural Effusion", "Symptomatic, Recurrent, MPEs")."""
_ADV_STRONG = _rx(
    r"\bmetastatic\b|\bmetastasis\b|distant metastases|"
    r"stage\s*(?:IV|4)\b|stage\s*III[BC]?\s*(?:[-/–]|or|to)\s*IV|"
    r"\bunresectable\b|\bnon-?resectable\b|\binoperable\b|\bnon-?operable\b|"
    r"\bincurable\b|incurability|not amenable to (?:potentially )?"
    r"(?:curative|surgical|surgery|local)|"
    r"not (?:a )?candidates? for (?:potentially )?curative|not eligible for "
    r"curative|no (?:indication of )?curative|not suitable for curative|cannot be (?:removed|resected)|"
    r"\brecurrent\b(?!" + _EFFUSION_NEXT + r")|\brelapsed\b|\brefractory\b(?!" + _EFFUSION_NEXT + r")|"
    r"extensive[- ]stage|\bES-SCLC\b|\bM1\b(?!\s*/\s*M2|\s+macrophage)|\bmetastases\b|"
    r"for which no (?:standard|curative)|no (?:standard|"
    r"effective standard) (?:of care )?(?:therapy|treatment)|"
    r"fail(?:ed|ure of|ing) (?:a minimum of |at least |≥ ?)?(?:standard|prior|previous|\d|one|two|a prior|"
    r"first[- ]line)|"
    r"progress\w* (?:disease )?(?:on|after|following|during) (?:an? )?(?:standard|prior|at least)|"
    r"(?:must|should) have progressed (?:on|after|following|during)|"
    r"(?:first|second|tumou?r|documented|radiographic\w*|locoregional|local) recurrence|"
    r"recurrence/progression|"
    r"non-?progressive (?:after|following)|without (?:disease )?progression (?:after|following)|"
    r"(?:after|following|completion of)[^.;]{0,40}\bfirst[- ]line (?:chemo|systemic|therapy|treatment)|"
    r"(?:previously treated|after (?:at least )?(?:one|1) (?:prior )?(?:line|regimen))|"
    r"advanced (?:or|and/or|/) ?metastatic|locally advanced (?:or|and/or|/) ?metastatic|carcinomatosis|"
    r"leptomeningeal metastas\w*"
)
_ADV_WEAK = _rx(r"\badvanced\b|\bpalliative (?:treatment|therapy|intent|setting|chemotherapy)")
_EARLY = _rx(
    r"\bresectable\b|\bearly[- ](?:stage|invasive|breast)|"
    r"\bstage\s*(?:I{1,3}|[123])\s*(?:[-–]|to|or)\s*(?:I{1,3}[ABC]?|[123])\b|"
    r"\bstage\s*(?:I|II|IIA|IIB|IIIA?)\b(?!\s*(?:[-–/]|or|to)\s*(?:IV|4|"
    r"III[BC]))|non-?metastatic|no evidence of (?:distant )?metasta\w*|"
    r"\blocalized\b|\blocalised\b|\badjuvant\b|\bneo-?adjuvant\b|curative[- ]intent|with curative intent|"
    r"planned (?:for )?(?:surgical )?resection|complete(?:ly)? resect\w*|amenable to (?:surgical )?resection|"
    r"not experienced recurrence|no evidence of disease|prevent\w* (?:of )?(?:cancer|recurrence|tumou?r)|"
    r"screening (?:trial|study|program)|confined to the"
)


_ADV_GATE = Gate(_ADV_STRONG, _ADV_WEAK, _EARLY)


def _title_items(t: TrialText) -> list[Item]:
    out = [Item(s, "title") for s in (t.title, t.official_title) if s]
    out += [Item(s, "title") for s in (*t.conditions, *t.keywords) if s]
    return out


_ADV_NEG = _rx(r"(?:\bno\b|\bnot\b|\bnon-?\s*$|\bwithout\b|\bfree of\b|\bprevent\w*|\bexclud\w*)[^.;]{0,25}$")
_OTHER_CANCER = _rx(r"(?:other|prior|previous|second|another|additional|history of)[^.]{0,40}malignan|"
                    r"malignan\w*[^.]{0,60}(?:except|other than|within the (?:past|last))|"
                    r"in situ(?! hybridi[sz]ation)|"
                    r"liver metasta|hepatic metasta|brain metasta|"
                    r"CNS metasta|bone metasta|metastases are present")


@lru_cache(maxsize=_ITEM_CACHE)
def _adv_kind(text: str, f: str, section: str, listed: bool) -> str | None:
    """``strong`` / ``early`` / ``weak`` / None for one item (``text`` whitespace-collapsed, ``f``
    its fold); ``listed``: a title-group item that is one of the keywords or conditions."""
    if not _ADV_GATE.possible(f):
        return None
    if section != "title" and _OTHER_CANCER.search(text, f):
        return None
    m = _ADV_STRONG.search(text, f) or (_ADV_WEAK.search(text, f) if section == "title" and listed else None)
    e = _EARLY.search(text, f)
    if m and not _ADV_NEG.search(text[: m.start()]) and not (
            e and e.start() < m.start() and "resectab" in e.group(0).lower()):
        return "strong"
    if e:
        return "early"
    if _ADV_WEAK.search(text, f):
        return "weak"
    return None


def _advanced_arm(t: TrialText) -> str | None:
    """The first arm label that names advanced disease (strong phrases only, not negated)."""
    for a in t.arms:
        label = " ".join(a.label.split())
        if label and _adv_kind(label, fold(label), "arm", False) == "strong":
            return a.label.strip()
    return None


def advanced_disease(t: TrialText) -> Result:
    """``yes`` when stage IV / metastatic / unresectable / recurrent patients can enroll, ``no`` for
    early, resectable, (neo)adjuvant, curative-intent or prevention trials, else ``unknown``.
    Trials that are not about cancer are ``unknown``."""
    if not is_cancer_trial(t):
        return Result("unknown")
    crit = [i for i in items_of(t) if i.section != "exclusion"]
    listed = (*t.keywords, *t.conditions)
    for group in (crit, _title_items(t)):
        early: Item | None = None
        weak: Item | None = None
        for it in group:
            text = it.flat
            kind = _adv_kind(text, it.folded, it.section, it.section == "title" and text in listed)
            if kind == "strong":  # the first strong item decides
                return Result("yes", (clean_piece(it.text),))
            if kind == "early" and early is None:
                early = it
            elif kind == "weak" and weak is None:
                weak = it
        if early is not None:
            arm = _advanced_arm(t) if group is crit else None
            if arm is not None:  # e.g. a resectable cohort beside an "Advanced or Metastatic ..." arm
                return Result("yes", (arm,))
            return Result("no", (clean_piece(early.text),))
        if weak is not None:
            return Result("yes", (clean_piece(weak.text),))
    return Result("unknown")


# -------------------------------------------------------------------------- prior immunotherapy

_IO = _rx(
    r"immuno-?therap\w*|immunotherapeutic|immune[- ]?checkpoint|"
    r"checkpoint (?:inhibitor|blockade|blocker|therap)\w*|"
    r"\bCPIs?\b|\bICIs?\b|\bI/O\b|immune[- ]oncology|immuno-?oncology|"
    r"anti[- ]?PD[- ]?(?:L|\(L\))?-?1|against PD-?L?-?1|PD[- ]?L?-?1\)? (?:or PD[- ]?L-?1 )?(?:inhibitor|"
    r"antibod|agent|blockade|mAb|monoclonal|therap|targeted)\w*|"
    r"PD-?L?1 (?:or|and|and/or|/) [\w-]{2,12} (?:\w+/)?(?:monoclonal|bispecific|inhibitor|antibod)\w*|"
    r"PD-1/L1|anti[- ]?PD[- ]?L?2|anti[- ]?CTLA[- ]?4|"
    r"PD-? ?\(L\) ?-?1 (?:inhibitor|antibod|agent|blockade|mAb|monoclonal|therap)\w*|"
    r"CTLA[- ]?4\)? (?:inhibitor|antibod|antagonist|agent)\w*|"
    r"\bbiologic(?:al)? (?:therapy|therapies|agents?|treatment)|\bnivolumab|\bpembrolizumab|\bipilimumab|"
    r"\batezolizumab|\bdurvalumab|\bavelumab|\bcemiplimab|T[- ]cell co-?stimulation|"
    r"immun(?:e|ologically)[- ]mediated therap\w*|"
    r"cytotoxic T[- ]lymphocyte[- ]associated (?:protein|antigen)[- ]?4|"
    r"programmed (?:cell )?death[- ]?(?:\(?ligand\)?)?[- ]?1\)? (?:\(\w+\) )?"
    r"(?:inhibitor|antibod|agent|blocker|therap)\w*|"
    r"(?:PD-?L?-?1|CTLA-?4),? (?:(?:PD-?L?-?1|CTLA-?4),? )*(?:or|and|and/or) (?:PD-?L?-?1|CTLA-?4) "
    r"(?:drugs?|agents?|inhibitors?|antibod\w*|blockers?|mAbs?)\b"
)
_IO_ONE_KIND = re.compile(r"(?:adoptive|cellular|cell|CAR[- ]?T|gene|allergen|antigen[- ]specific)[- ]"
                          r"(?:\w+[- ])?$", re.I)
"""Words just before "immunotherapy" that name one kind of it ("adoptive cell immunotherapy")."""
_IO_IRRELEVANT = _rx(r"allerg|desensiti|live (?:attenuated )?vacc|biops|tissue|specimen|pregnan|breastfeed|"
                     r"contracep|hypersensitiv|excipient|contraindicat|"
                     r"^\W*\d+ (?:days?|weeks?|months?) (?:after|following|from) the (?:end|last)")
"""Contexts where an immunotherapy name says nothing about eligibility ("5 months after the end of
the treatment with nivolumab" is a contraception period)."""
_THERAPY_PARENT = re.compile(r"\b(?:therap\w*|treatments?|drugs?|agents?|medications?)\b", re.I)
"""A parent whose time window the items under it inherit ("... the following therapies within 4 weeks:")."""
_PARENT_IRRELEVANT = _rx(r"contracep|pregnan|childbearing|\bWOCBP\b|breastfeed|live (?:attenuated )?vacc")
_UNTREATED_CANCER = (r"\buntreated\b(?= [^.]{0,40}(?:advanced|metastatic|disease|cancer|NSCLC|carcinoma|"
                     r"tumou?r|[a-z]+omas?\b|\bstage\b|leuka?emia))")
"""'untreated' followed by what is untreated: the cancer (by any '-oma' name), its stage or the disease."""
_SYSTEMIC_ALL = _rx(
    r"(?:systemic|systematic|anti-?cancer|anti-?tumou?r|"
    r"antineoplastic|disease[- ]directed)\s+(?:\w+\s+){0,2}(?:therapy|therapies|"
    r"treatments?|regimens?)|treatment[- ]na[iï]ve|previously untreated|" + _UNTREATED_CANCER + r"|"
    r"no prior (?:treatment|therapy)\b|"
    r"(?:any|all) prior (?:therapy|treatment)(?! with| targeting| directed| against)|"
    r"\bprior treatment for (?:advanced|metastatic)|"
    r"not (?:have )?received (?:any )?(?:prior )?(?:treatment|therapy) for"
)
_MANY_LINES = _rx(
    r"(?:(?:≥|>=|at least) ?(?:[2-9]|two|three|four)|"
    r"(?:>|more than|greater than) ?(?:\(>\) ?)?(?:[1-9]|one|two|three))"
    r"\s+(?:prior |previous )?(?:lines?|regimens?|systemic|therap\w*|treatments?|anti)|"
    r"(?:lines?|regimens?) of (?:\w+[ -]){0,3}(?:therapy|therapies|treatments?) ?(?:≥|>=|>) ?[1-9]|"
    r"\b(?:[2-9]|two|three|four) or more (?:prior |previous )?"
    r"(?:lines?|regimens?|systemic|therap|treatments?)")
"""A count of earlier lines ("received ≥ 2 prior systemic therapies"): a cap, not treatment-naive."""
_EARLY_NAIVE = _rx(r"\b(?:operable|resectable|neo-?adjuvant|surgery|early[- ]stage)\b")
_CHEMO_ONLY = _rx(r"^(?:[^.]*\b(?:cytotoxic )?chemotherap\w*)")
_REQUIRE = _rx(
    r"progress\w*|refractory|relapsed|resistan\w*|fail\w*|previously treated|pretreated|"
    r"(?:must|should) have (?:received|been treated|had)|received (?:at least|≥|prior|\d)|"
    r"treated with (?:at least|prior|an?)|including|after|following|who (?:have|had) received|"
    r"(?:are|is) receiving|completed \d|experienced|intolerant|(?:must|should) (?:have )?include"
)
_STRONG_REQUIRE = _rx(r"\bcompleted \d|progress\w* (?:on|after|during|following)|refractory|\bfailed|"
                      r"received at least|previously treated with|received (?:\d|one|two) (?:prior|previous)")
_ALLOWED = _rx(
    r"(?:prior(?! to)|previous)[^.]{0,60}(?:is|are) (?:allowed|permitted|acceptable|eligible)|"
    r"(?:allowed|permitted|eligible)[^.]{0,40}(?:prior|previous)[^.]{0,40}immun|"
    r"may have (?:been|received|had)[^.]{0,80}immun|with or without prior|regardless of prior|"
    r"(?:including|incl\.) (?:prior )?immunotherapy|"
    r"patients with prior[^.]{0,60}(?:must|may|are eligible|can)|"
    r"(?:patients?|participants?|subjects?) who (?:have )?(?:previously |already )?"
    r"(?:received|been treated with) (?:prior |previous |an? )?(?:[\w-]+ ){0,3}"
    r"(?:immun\w*|checkpoint|anti-?PD|PD-?L?-?1|PD\(L\)1|anti-?CTLA|ICIs?\b|CPIs?\b)"
    r"[^.]{0,40}?(?:must|may|are eligible|can|should) (?!not\b)|"
    r"with or without (?:prior )?(?:an? )?(?:anti-?PD|PD-?L?-?1|anti-?CTLA|CTLA|immun|checkpoint|ICI|CPI)|"
    r"known to (?:be effective|provide (?:a )?(?:clinical )?benefit)|"
    r"immun\w*[^.;]{0,80}\b(?:will be|is|are|may be) (?:allowed|permitted|acceptable)|"
    r"\band/or (?:an? )?(?:prior )?(?:immunotherap|checkpoint|anti-?PD|PD-?L?-?1)|"
    r"\bincluding[^.;)]{0,50}\bimmunotherap|"
    r"\bif (?:approved|available|indicated|eligible)\b|"
    r"\bwhere (?:approved|available|indicated)\b"
)
_ALLOWED_IN_EXCLUSION = _rx(
    r"(?:prior(?! to)|previous)[^.]{0,60}(?:is|are) (?:allowed|permitted|acceptable|eligible)|"
    r"(?:allowed|permitted|eligible)[^.]{0,40}(?:prior|previous)[^.]{0,40}immun|"
    r"(?:are|is) eligible, including[^.]{0,40}(?:immun|checkpoint)|"
    r"may have (?:been|received|had)[^.]{0,80}immun|regardless of prior|"
    r"patients with prior[^.]{0,60}(?:may|are eligible|can)"
)
"""Permissions that can sit in an exclusion item; "including immunotherapy" there lists what is excluded."""
_COHORT_SCOPED = _rx(r"\bonly (?:for|in) (?:cohorts?|parts?|arms?)\b|"
                     r"\((?:cohorts?|parts?|arms?) [^()]{1,40} only\)|"
                     r"\bexcept(?:ion)? (?:for|in|of)? ?[^.;]{0,60}\b(?:cohorts?|parts?|arms?)\b ?"
                     r"(?-i:[A-Z0-9]{1,3}[ab]?)\b|"
                     r"\bexception for (?:cohorts?|parts?|arms?)\b|"
                     r"\b(?:for|in) some (?:parts|cohorts|arms)\b")
"""An exclusion that names the cohorts it applies to ("(only for cohort 1, 2 and 4)")."""
_COHORT = _rx(r"\b(?:cohorts?|parts?|arms?|phase|groups?|sub-?study|substudy)\s*(?-i:[A-Z0-9]{1,3}[ab]?)\b|"
              r"^\W*(?:for|in) [^:]{0,60}\b(?:cohorts?|parts?|arms?)\b[^:]{0,40}:|"
              r"\bMSI-H|\bdMMR|\bmelanoma:|\bsubjects? with [A-Z]{2,}|"
              r"^\W*(?-i:[A-Z]{2,}[A-Za-z0-9-]*)(?: (?-i:[A-Z]{2,}[A-Za-z0-9-]*))?:\s|"
              r"\b(?:on|in|for|to) the [\w/ -]{1,30}? (?:cohorts?|arms?|parts?)\b|"
              r"^\W*(?:an? |all |any )?(?:patients?|participants?|subjects?|those) who (?:have )?"
              r"(?:previously |already )?(?:received|been treated|had)\b[^.]{0,60}\b"
              r"(?:must|should|are required)")
"""Criteria that bind one cohort, part or tumour type, or only patients with a given history ("A patient
who previously received systemic therapy must have had progression on a checkpoint inhibitor")."""


_SYS_IRRELEVANT = _rx(
    r"infection|autoimmun|steroid|immunosuppress|replacement|hepatitis|\bHIV\b|tubercul|pregnan|biops|tissue|"
    r"specimen|sample|vitiligo|psoriasis|asthma|thyroid|diabet|hypersensitiv|allerg|bisphosphonate|"
    r"growth factor|transfusion|anticoagul|antibiotic|anti-infective|contracept|"
    r"pneumonitis|interstitial lung|lung disease|\bILD\b|requir\w* (?:\w+ ){0,2}systemic|"
    r"\bother (?:\w+ ){0,2}(?:malignan\w*|tumou?rs?|cancers?)\b|"
    r"(?:second|another|additional) (?:primary )?malignan|amend?able to"
)
_TOXICITY = _rx(r"toxicit|adverse (?:event|reaction)|\b(?:ir)?AEs?\b|immune[- ]related|hypersensitivity|"
                r"intoleran|anaphyla|allergic reaction|side[- ]effects?|unresolved|"
                r"not (?:yet )?(?:recovered|resolved)|\binduced\b")
_HEADING_ITEM = re.compile(r"^[^:;.]{0,60}:$")
"""A short heading that only introduces the sub-items below it ("Prior anticancer therapies:")."""
_CONCURRENT_ONLY = _rx(r"\b(?:no|any) (?:other )?(?:concurrent|concomitant)|currently receiving|current use|"
                       r"^\W*(?:concurrent|concomitant)|\bunder (?:immunotherapy|chemotherapy)|ongoing|"
                       r"\b(?:receiving|receipt of|use of) (?:any )?(?:other )?(?:concurrent|concomitant)|"
                       r"\bactively receiving\b|"
                       r"\bundergoing\b|\bplan(?:s|ning|ned)? to (?:take|receive|undergo)|"
                       r"\b(?:may|will) (?:need to )?receive\b|during the (?:study|trial)(?: period)?\b|"
                       r"while (?:on|in|participating in) (?:the )?(?:study|trial)")
_NAIVE = _rx(r"treatment[- ]na[iï]ve|previously untreated(?! with)|" + _UNTREATED_CANCER + r"|"
             r"na[iï]ve to (?:prior )?(?:systemic|treatment|therapy)")
_NAIVE_OF_ONE = re.compile(
    r"(?:\bTKIs?|inhibitors?|\)|chemo(?:therapy)?|endocrine|hormon\w*|ADCs?|radiation|radiotherapy|targeted|"
    r"EGFR|ALK|HER2|KRAS|BRAF|CDK4/6|PARP|[a-z]+(?:mab|nib|sib|lib|rasib))\W*(?:treatment[- ])?$", re.I)
"""What is named just before "treatment-naïve": one drug or class ("Tyrosine Kinase Inhibitor (TKI)
treatment naïve"), not every anticancer therapy."""


def _naive_all(text: str, f: str) -> re.Match[str] | None:
    """A treatment-naive statement about all anticancer therapy (not one drug or class)."""
    if _NAIVE.search(text, f) is None:
        return None
    for m in _NAIVE.finditer(text):
        if not _NAIVE_OF_ONE.search(text[max(0, m.start() - 40): m.start()]):
            return m
    return None


_IO_GATE = Gate(_IO, _SYSTEMIC_ALL, _NAIVE)  # an item none of these can match says nothing
_IO_GATE_EXCLUSION = Gate(_IO, _SYSTEMIC_ALL)  # exclusion items: "naive" is not read there


@lru_cache(maxsize=_ITEM_CACHE)
def _io_kind(text: str, f: str, section: str, parent: str = "") -> str | None:
    """``excl`` / ``req`` / ``allow`` / None: what one item (``text`` whitespace-collapsed, ``f`` its
    fold) says about prior immunotherapy; ``parent`` is the line ending in ":" that introduces it."""
    if not (_IO_GATE_EXCLUSION if section == "exclusion" else _IO_GATE).possible(f):
        return None
    if parent and _PARENT_IRRELEVANT.search(parent):
        return None
    io = _IO.search(text, f)
    if io and _IO_IRRELEVANT.search(text, f) and not _ALLOWED.search(text, f):
        io = None
    if io and _IO_ONE_KIND.search(text[max(0, io.start() - 30): io.start()]) \
            and not any(_IO_ONE_KIND.search(text[max(0, m.start() - 30): m.start()]) is None
                        for m in _IO.finditer(text)):
        io = None  # only one kind named ("adoptive cell immunotherapy"): not immunotherapy in general
    sys_all = _SYSTEMIC_ALL.search(text, f)
    if sys_all and (_SYS_IRRELEVANT.search(text, f) or re.search(r"chemotherap", sys_all.group(0), re.I)
                    or re.search(r"no more than|not more than|maximum of|up to \d", text, re.I)
                    or _MANY_LINES.search(text, f)):
        sys_all = None
    naive = _naive_all(text, f) if section != "exclusion" else None
    if naive and _EARLY_NAIVE.search(text, f) \
            and not re.search(r"advanced|metasta|recurren|unresectable", text, re.I):
        naive = None  # untreated early disease in a surgical cohort says nothing about advanced disease
    if not io and not sys_all and not naive:
        return None
    if _CONCURRENT_ONLY.search(text, f) and not re.search(r"\b(?:prior|previous(?:ly)?)\b", text, re.I):
        return None
    if io and (_ALLOWED_IN_EXCLUSION if section == "exclusion" else _ALLOWED).search(text, f):
        return "allow"
    if (io or sys_all) and (_toxicity(text, f) or (parent and _TOXICITY.search(parent))):
        return None  # "AEs from prior anti-tumour therapy have not recovered" / irAE clauses
    if _HEADING_ITEM.match(text) and not _NEGATED.search(text, f):
        return None  # the sub-items decide
    if naive:
        return "excl"
    washout = _washout_only(text, f) or (bool(parent) and _THERAPY_PARENT.search(parent) is not None
                                         and _washout_only(parent))
    pos = (io or sys_all).start()  # type: ignore[union-attr]
    neg_near = _negated_before(text, pos, 100)
    neg = neg_near or bool(re.search(r"not (?:be )?permi|not allowed|excluded", text, re.I))
    if section == "exclusion":
        if washout:
            return None
        if _NO_PRIOR_START.match(text):
            return "req" if io else None  # "No prior anti-PD-1 therapy" listed as an exclusion
        if neg_near and _REQUIRE.search(text, f) and io:
            return "req"  # "patients who have not received prior anti-PD-1" in exclusions
        return "excl"
    # inclusion / other: requirements are positive, exclusions are negated
    if neg:
        return None if washout else "excl"
    if io and _REQUIRE.search(text, f) and (not washout or _STRONG_REQUIRE.search(text, f)):
        return "req"
    return None


_Found = list[tuple[Item, Context]]


_INTOLERANT_OF_STANDARD = re.compile(
    r"intoleran\w* (?:to|of) (?:all |the )?(?:standard|prior|available|existing|previous)", re.I)


def _toxicity(text: str, f: str) -> bool:
    """A toxicity clause ("irAE that led to discontinuation"), not the "intolerant to standard treatment"
    of a line-of-therapy requirement."""
    if _TOXICITY.search(text, f) is None:
        return False
    return any(not _INTOLERANT_OF_STANDARD.match(text, m.start()) for m in _TOXICITY.finditer(text))


def _io_statements(t: TrialText) -> tuple[_Found, _Found, _Found, set[str]]:
    """(excluding, requiring, allowing) criteria items about prior immunotherapy with their context,
    and the scopes (trial parts named by headings) of the criteria."""
    found: dict[str, _Found] = {"excl": [], "req": [], "allow": []}
    items = items_of(t)
    ctx = contexts(items)
    for it, c in zip(items, ctx, strict=True):
        kind = _io_kind(it.flat, it.folded, it.section, c.parent)
        if kind is not None:
            found[kind].append((it, c))
    scopes = {c.scope for c in ctx if c.scope}
    return found["excl"], found["req"], found["allow"], scopes


def _cohort_limited(it: Item) -> bool:
    return bool(_COHORT.search(it.text))


def _scoped(found: _Found, scopes: set[str]) -> bool:
    """Every statement binds only some parts of the trial: it names its cohort, or sits under a part's
    heading while another part's heading has no such statement."""
    if not found:
        return False
    under = {c.scope for _, c in found if c.scope}
    for it, c in found:
        if _cohort_limited(it) or _COHORT_SCOPED.search(it.flat, it.folded):
            continue
        if c.scope and scopes - under:
            continue
        return False
    return True


_CTLA4 = re.compile(r"CTLA|ipilimumab|tremelimumab|cytotoxic T[- ]lymphocyte", re.I)
_ARM_PRIOR_IO = _rx(
    r"(?:prior|post|after|previously treated with)[- ](?:CPI|ICI|checkpoint|PD-?L?-?1|anti-PD-?L?-?1|"
    r"immunotherapy|IO)\b|(?:CPI|ICI|checkpoint inhibitors?|PD-?L?-?1|anti-PD-?L?-?1|immunotherapy|IO)[- ]"
    r"(?:experienced|treated|pre-?treated|refractory|resistant|relapsed|progressed|failure)")
"""An arm for patients who already had checkpoint inhibitors ("Cohort C1: ... Checkpoint Inhibitor
Experienced Participants", "Part 2: Cohort Expansion; Prior CPI Therapy")."""


def _arm_prior_io(t: TrialText) -> Result | None:
    """When the criteria say nothing: an arm for patients who had checkpoint inhibitors (its label, else
    its description, not negated) gives ``allowed`` (other arms exist) or ``required`` (it is the only
    arm). The evidence is the label, or the description's sentence that says it."""
    arms = [a for a in t.arms if a.label.strip()]
    hits: list[str] = []
    for a in arms:
        label = " ".join(a.label.split())
        if _ARM_PRIOR_IO.search(label, fold(label)):
            hits.append(a.label.strip())
            continue
        for sent in _ARM_SENTENCE.findall(a.description):
            flat = " ".join(sent.split())
            m = _ARM_PRIOR_IO.search(flat, fold(flat))
            if m and not _negated_before(flat, m.start()):
                hits.append(sent.strip())
                break
    if not hits:
        return None
    return Result("allowed" if len(hits) < len(arms) else "required", (hits[0],))


_ARM_SENTENCE = re.compile(r"[^.;\n]+")
"""Sentences (or clauses) of an arm description."""


def prior_immunotherapy(t: TrialText) -> Result:
    """Can a patient who already had immunotherapy join? ``excluded`` / ``required`` / ``allowed`` /
    ``unstated`` (a washout alone is unstated). Mixed cohorts (some require or allow it, others
    exclude it, or an exclusion scoped to some cohorts) give ``allowed``. Non-cancer trials: ``unstated``."""
    if not is_cancer_trial(t):
        return Result("unstated")  # the question is about cancer immunotherapy (allergen OIT/SLIT is not)
    excl, req, allow, scopes = _io_statements(t)
    ev = lambda found: tuple(clean_piece(i.text) for i, _ in found)  # noqa: E731
    if req and excl:
        if not _scoped(excl, scopes) and any(_CTLA4.search(i.flat) for i, _ in excl) \
                and not any(_CTLA4.search(i.flat) for i, _ in req):
            # every route needs anti-PD-(L)1 but an exclusion binding everyone names CTLA-4: a patient who
            # had nivolumab + ipilimumab cannot join
            return Result("excluded", ev(excl[:1] + req[:1]))
        return Result("allowed", ev(req[:1] + excl[:1]))
    if req:
        if _scoped(req, scopes):
            return Result("allowed", ev(req[:1]))
        return Result("required", ev(req[:1]))
    if excl and allow:
        return Result("allowed", ev(allow[:1] + excl[:1]))
    if _scoped(excl, scopes):
        return Result("allowed", ev(excl[:1]))  # the exclusion binds some cohorts only
    if excl:
        return Result("excluded", ev(excl[:1]))
    if allow:
        return Result("allowed", ev(allow[:1]))
    return _arm_prior_io(t) or Result("unstated")


# ------------------------------------------------------------------------------ line of therapy

_FIRST = _rx(
    r"first[- ]line|front[- ]?line|\b1L\b|"
    r"(?:no|not (?:have )?received (?:any )?|without) (?:prior|previous) (?:systemic|systematic|cytotoxic|"
    r"anti-?cancer|chemo)\w*|(?:no|without) (?:prior |previous )?(?:systemic|systematic) (?:\w+ ){0,2}"
    r"(?:therapy|treatment|chemotherap\w*)|no prior chemotherapy|must not have received prior chemotherapy|"
    r"not (?:have )?received (?:any )?prior (?:\w+ )?(?:chemotherapy|therapy|treatment) for|"
    r"\bno prior (?:\w+ )?(?:therapy|treatment) for (?:the )?(?:advanced|metastatic|recurrent|unresectable|"
    r"locally advanced)"
)
_PREV = _rx(
    r"previously treated|pre-?treated|\bexhausted\b|"
    r"\bprogress\w* (?:disease )?(?:on|after|following|during|or recurrence after)|"
    r"(?:proven|been|is|are) ineffective|no longer effective|"
    r"refractory|relapsed|\bfail\w* (?:of )?(?:at least|≥|prior|standard|\d|one|two)|failed|"
    r"(?:at least|≥|minimum (?:of )?)\s*(?:one|1|two|2|three|3)\s*(?:prior |previous |line|regimen|systemic|"
    r"standard)|second[- ]line|third[- ]line|\b2L\b|after (?:at least )?(?:one|1|first[- ]line)|"
    r"(?:must|should) have (?:received|had)|have received (?:standard )?first[- ]line|resistan\w*|"
    r"(?:after|following|completion of|start of) [^.]{0,40}(?:(?:first|front)[- ]line|\b1L\b)|salvage|"
    r"recurrent [^.]{0,30}after|recurrence (?:after|following)|"
    r"intolerant (?:of|to) (?:all )?(?:standard|prior)|"
    r"\b(?:first|second|1st|2nd) (?:or (?:second|third|2nd|3rd) )?(?:relapse|recurrence)|"
    r"have received [^.]{0,80}\b(?:1st|first)[- ]line|"
    r"(?:using|receiving|on) [^.]{0,40}\bas (?:the )?(?:1st|first)[- ]line|progress\w* while on|"
    r"standard (?:treatment|therapy|therapies) (?:is|are|was|were|has been|have been) (?:invalid|ineffective|"
    r"failed)|prior (?:treatment|therapy) must include"
)
_NO_PRIOR_START = re.compile(r"^\W*(?:no|without) (?:prior|previous)\b", re.I)
"""An exclusion item that starts "No prior ...": patients who had none are excluded (a double negative)."""
_ANY = _rx(r"any line|regardless of (?:prior|previous)|with or without prior")


_CAP = _rx(r"no more than (?:one|1|two|2|three|3) prior|not more than (?:one|1|two|2) prior|"
           r"no limit (?:to|on) the number of prior|0[-–]\d prior")
_LINE_IRRELEVANT = _rx(r"biops|tissue|specimen|lesions? (?:located|situated|in a previously)|irradiated|"
                       r"hepatitis|infection|toxicit|recovered|resolution|"
                       r"hypersens|allerg|\bCNS\b|brain|bowel|"
                       r"steroid|transplant|other malignan|prior malignan|second malignan")
_FIRST_EXCL = _rx(r"\b(?:prior|previous|any|received|"
                  r"receipt of)\b[^.]{0,40}\b(?:systemic|systematic|chemotherap\w*|"
                  r"anti-?cancer|treatment|therapy)[^.]{0,60}\b(?:for|"
                  r"in) (?:the )?(?:advanced|metastatic|MPM|"
                  r"mesothelioma|locally advanced|recurrent|unresectable|(?-i:[A-Z]{2,})\b)")


_LINE_GATE = Gate(_ANY, _FIRST, _NAIVE, _PREV, _CAP)  # an item none of these can match says nothing
_LINE_GATE_EXCLUSION = Gate(_FIRST_EXCL, _NAIVE)


@lru_cache(maxsize=_ITEM_CACHE)
def _line_kind(text: str, f: str, section: str) -> str | None:
    """``first`` / ``prev`` / ``any`` / ``cap`` / None: what one item (``text`` whitespace-collapsed,
    ``f`` its fold) says about the line of therapy."""
    if not (_LINE_GATE_EXCLUSION if section == "exclusion" else _LINE_GATE).possible(f):
        return None
    irrelevant = _LINE_IRRELEVANT.search(text, f)
    if irrelevant and not (section != "exclusion" and irrelevant.group(0).lower().startswith("toxicit")
                           and (p0 := _PREV.search(text, f)) is not None and p0.start() < irrelevant.start()):
        return None  # yet "failure of ... prior therapy (progression or intolerable toxicity)" counts
    if section == "exclusion":
        if _NO_PRIOR_START.match(text):
            return "prev"  # "No prior systemic therapy for metastatic disease" listed as an exclusion
        if _FIRST_EXCL.search(text, f) and not _washout_only(text, f) \
                and not _CONCURRENT_ONLY.search(text, f) and not _MANY_LINES.search(text, f) \
                and not re.search(r"\b(?:adjuvant|more than|≥ ?[2-9]|[2-9] or more|three or more)\b",
                                  text, re.I):
            return "first"
        if _naive_all(text, f):
            return "prev"  # "treatment-naive" patients excluded
        return None
    if (a := _ANY.search(text, f)) is not None:
        p0 = _PREV.search(text, f)
        # "recurrent ... after prior CSI with or without prior chemotherapy": the requirement comes first
        return "prev" if p0 is not None and p0.start() < a.start() else "any"
    first = _FIRST.search(text, f) or _naive_all(text, f)
    if first and _EARLY_NAIVE.search(text, f) \
            and not re.search(r"advanced|metasta|recurren|unresectable", text, re.I):
        return None  # untreated early disease in a surgical cohort
    p = _PREV.search(text, f)
    if first and not (p and p.start() < first.start()):
        if not _washout_only(text, f) or _naive_all(text, f):
            return "first"
        return None
    if p:
        if re.search(r"\b(?:adjuvant|neoadjuvant)\b", text, re.I) and not re.search(
                r"advanced|metastatic|recurrent", text, re.I):
            return None
        return "prev"
    if _CAP.search(text, f):
        return "cap"
    return None


_SUBGROUP = _rx(r"^\W*(?:for |in )?(?:patients|participants|subjects) with "
               r"(?!(?:solid|advanced|malignant|metastatic|recurrent|the|their|a|an|any|all)\b)"
               r"(?:(?:[\w-]+ ){1,2}(?:cancers?|carcinomas?|tumou?rs?)|(?:[\w-]+ ){0,2}[a-z]+omas?)\b")


def _subgroup_limited(it: Item) -> bool:
    """A requirement that binds one cohort or one tumour type ("Patients with thyroid cancer must ...")."""
    return _cohort_limited(it) or bool(_SUBGROUP.search(it.flat, it.folded))


def line_of_therapy(t: TrialText) -> Result:
    """``first_line`` (no prior systemic therapy for advanced disease), ``previously_treated``
    (inclusion requires prior therapy), ``any`` (both, or explicitly either), ``unknown``.
    Trials for early (non-advanced) disease are ``unknown``: lines count advanced-disease treatment."""
    if not is_cancer_trial(t) or advanced_disease(t).value == "no":
        return Result("unknown")
    found: dict[str, _Found] = {"first": [], "prev": [], "any": [], "cap": []}
    items = items_of(t)
    ctx = contexts(items)
    for it, c in zip(items, ctx, strict=True):
        kind = _line_kind(it.flat, it.folded, it.section)
        if kind is not None:
            found[kind].append((it, c))
    scopes = {c.scope for c in ctx if c.scope}
    first, prev, anyl, caps = found["first"], found["prev"], found["any"], found["cap"]
    ev = lambda found: tuple(clean_piece(i.text) for i, _ in found)  # noqa: E731
    if anyl and not (first and not prev):
        return Result("any", ev(anyl[:1]))
    if first and prev:
        return Result("any", ev(first[:1] + prev[:1]))
    if first:
        if _scoped(first, scopes):
            return Result("any", ev(first[:1]))  # only some parts of the trial are first-line
        return Result("first_line", ev(first[:1]))
    if prev and caps and all(_subgroup_limited(i) for i, _ in prev):
        return Result("any", ev(caps[:1] + prev[:1]))  # only a subgroup must be pretreated; others: 0..cap
    if prev:
        return Result("previously_treated", ev(prev[:1]))
    if caps:
        return Result("any", ev(caps[:1]))
    for s in (t.title, t.official_title):
        m = re.search(r"first[- ]line|front[- ]line|previously untreated|"
                      r"(?:chemotherapy|treatment)[- ]na[iï]ve", s, re.I)
        if m:
            return Result("first_line", (m.group(0),))
        m = re.search(r"second[- ]line|previously treated|refractory|relapsed", s, re.I)
        if m:
            return Result("previously_treated", (m.group(0),))
    return Result("unknown")


# ---------------------------------------------------------------------------------- histology

_SITES: dict[str, Rx] = {
    "pleural": _rx(r"pleura|\bMPM\b|malignant pleural disease"),
    "peritoneal": _rx(r"periton|\bMPeM\b"),
    "pericardial": _rx(r"pericardi"),
    "tunica_vaginalis": _rx(r"tunica vaginalis"),
}
_SUBTYPES: dict[str, Rx] = {
    "epithelioid": _rx(r"epithelioid|epithelial(?! ovarian| cancer| tumou?r)"),
    "sarcomatoid": _rx(r"sarcomatoid|fibrosarcomatous"),
    "biphasic": _rx(r"biphasic|\bmixed(?: type| subtype| histology)?\b"),
}
_MESO_ITEM = _rx(r"mesotheliom|\bMPM\b|\bMPeM\b|malignant pleural disease|site of origin")
_EXCLUDED_AFTER = _rx(r"^[^.;]{0,60}\b(?:excluded|not eligible|ineligible|are not allowed)")


def _sites_in(text: str) -> list[str]:
    return [s for s, rx in _SITES.items() if rx.search(text)]


def histology(t: TrialText) -> Result:
    """Mesothelioma sites and subtypes the trial names as eligible (empty when unrestricted or
    unstated; always empty for non-mesothelioma trials). Value: ``(sites, subtypes)``."""
    if not is_meso_trial(t):
        return Result(([], []))
    items = items_of(t)
    sites: list[str] = []
    subtypes: list[str] = []
    excluded_sub: set[str] = set()
    ev: list[str] = []
    for i, it in enumerate(items):
        text = it.flat
        if not _MESO_ITEM.search(text, it.folded):
            continue
        if it.section == "exclusion" or re.match(r"\W*(?:non-|no )", text, re.I):
            continue
        found_sites = _sites_in(text)
        if re.search(r"site of origin", text, re.I):  # "Any site ... including: Pleura Peritoneum ..."
            following = " ".join(x.flat for x in items[i + 1: i + 5])
            found_sites = _sites_in(text + " " + following)
        got = False
        for s in found_sites:
            if s not in sites:
                sites.append(s)
                got = True
        for name, rx in _SUBTYPES.items():
            for m in rx.finditer(text):
                if _EXCLUDED_AFTER.search(text[m.end():]) or _negated_before(text, m.start(), 12):
                    excluded_sub.add(name)
                elif name not in subtypes:
                    subtypes.append(name)
                    got = True
        if got:
            ev.append(clean_piece(it.text))
    for it in items:
        if it.section == "exclusion":
            for name, rx in _SUBTYPES.items():
                named = _MESO_ITEM.search(it.flat, it.folded) or re.search(r"histolog", it.flat, re.I)
                if rx.search(it.flat, it.folded) and named:
                    excluded_sub.add(name)
    subtypes = [s for s in subtypes if s not in excluded_sub]
    if not sites:
        for s in (t.title, t.official_title, *t.conditions):
            if _MESO_ITEM.search(s):
                for site in _sites_in(s):
                    if site not in sites:
                        sites.append(site)
                        ev.append(s)
    return Result((sites, subtypes), tuple(dict.fromkeys(ev)))


# ---------------------------------------------------------------------------------- biomarkers

_BIOMARKERS: dict[str, Rx] = {
    "mesothelin": _rx(r"mesothelin|\bMSLN\b|\bSMRP\b"),
    "PD-L1": _rx(r"PD-?L1"),
    "BAP1": _rx(r"\bBAP-?1\b"),
    "MTAP": _rx(r"\bMTAP\b"),
    "CDKN2A": _rx(r"CDKN2A|p16"),
    "B7-H3": _rx(r"B7-?H3|CD276"),
    "NF2": _rx(r"\bNF2\b|merlin"),
    "WT1": _rx(r"\bWT-?1\b"),
    "HLA-A2": _rx(r"HLA-?A\*?0?2"),
}
_REQUIRED = _rx(
    r"express\w*|positiv\w*|\+|≥|>=|>|\bhigh\b|confirm\w*|mutat\w*|loss|deficien\w*|deleted|deletion|"
    r"alteration|amplif\w*|overexpress\w*|TPS|CPS"
)


def biomarkers(t: TrialText) -> Result:
    """Biomarkers an inclusion criterion requires (mesothelioma trials only)."""
    if not is_meso_trial(t):
        return Result([])
    found: list[str] = []
    ev: list[str] = []
    for it in items_of(t):
        if it.section == "exclusion":
            continue
        for name, rx in _BIOMARKERS.items():
            m = rx.search(it.flat, it.folded)
            if not m or name in found:
                continue
            window = it.flat[max(0, m.start() - 60): m.end() + 80]
            if _REQUIRED.search(window) and not re.search(r"testing|for (?:correlative|research|analys)|"
                                                          r"not required|regardless", window, re.I):
                found.append(name)
                ev.append(clean_piece(it.text))
    return Result(found, tuple(dict.fromkeys(ev)))


def _reads(*extra: str) -> tuple[str, ...]:
    return ("eligibility.criteria", *extra)  # inclusion/exclusion are derived: normalize.split_criteria


ADVANCED_DISEASE = Facet("advanced_disease", _reads("trials.title", "trials.official_title",
                                                    "trials.conditions", "trials.keywords", "arms.label"),
                         advanced_disease, ("yes", "no", "unknown"), advanced_disease.__doc__ or "")
PRIOR_IMMUNOTHERAPY = Facet("prior_immunotherapy", _reads("arms.label"), prior_immunotherapy,
                            ("excluded", "required", "allowed", "unstated"),
                            prior_immunotherapy.__doc__ or "")
LINE_OF_THERAPY = Facet("line_of_therapy", _reads("trials.title", "trials.official_title"), line_of_therapy,
                        ("first_line", "previously_treated", "any", "unknown"), line_of_therapy.__doc__ or "")
HISTOLOGY = Facet("histology", _reads("trials.title", "trials.official_title", "trials.conditions",
                                      "trials.mesh_conditions", "trials.keywords"), histology, (),
                  histology.__doc__ or "")
BIOMARKERS = Facet("biomarkers", _reads("trials.title", "trials.conditions", "trials.mesh_conditions"),
                   biomarkers, (), biomarkers.__doc__ or "")


def all_items_text(items: Iterable[Item]) -> str:
    return "\n".join(i.text for i in items)
