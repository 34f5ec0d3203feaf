"""The rule backend: a sentence -> ⟨region, finding, existence⟩ triplets, in one regex pass.

How a sentence is read (all choices are general rules, none is tuned to a report):

* Mentions come from :class:`PhraseMatcher` over the lexicon (findings, anatomy, attributes,
  cues, punctuation), leftmost-longest, so "no change" (pseudo) hides its "no" and "cannot be
  excluded" is one uncertainty cue.
* Clauses end at stop cues ("but", "however", "which", "there is", ";") and at a comma that is
  directly followed by a new cue ("No effusion, possible pneumonia"). A cue governs only its own
  clause; a bare comma does not end a scope, so "No pneumothorax, effusion, or consolidation"
  negates all three.
* Existence is decided by the nearest governing cue: ``pre`` cues look right, ``post`` cues
  left, ``both`` either way. A hedge looking left stops at a comma after which another finding
  is its own subject ("Left basilar opacity, pneumonia cannot be excluded": the opacity is
  stated), unless that finding ends a list ("Atelectasis, scarring, or pneumonia is
  possible"). A negation looking left still reaches over commas: "Pneumothorax, effusion not
  seen" is a list as often as two statements, and reading a negated list as stated would
  invent findings. An uncertainty cue that itself sits in a negation's scope is
  negated ("no consolidation to suggest pneumonia": pneumonia absent).
* A finding governed by a hypothetical cue yields no triplet: it is what a test or a
  recommendation would look for ("CT can be performed to identify a small nodule", "limits
  evaluation for an effusion"), which says nothing about this image (see :mod:`cues`).
* Chronic, old and post-surgical states are findings like any other ("Old right rib
  fractures", "Minimal degenerative changes thoracic spine", "Cholecystectomy clips"): the IU
  MeSH coders code them in nine reports out of ten even when the impression is normal, so
  reading them as absent would misread both the text and the coders' convention.
* A finding is placed in the nearest group of anatomy mentions that can locate it (same clause
  first, then the sentence); mentions joined by "and"/"or"/commas form one group ("heart and
  mediastinum"). With none, the finding's implied region (cardiomegaly -> cardiac silhouette) or
  ``unspecified``.
  A negated finding only takes a location from its own clause ("Left basilar opacity, no
  effusion": the effusion is unspecified). A zone without a side takes its group's side
  ("right medial basilar", "infrahilar right lung").
* Attributes name a finding through the anatomy they describe: "heart size is normal" ->
  cardiomegaly absent; "lungs are clear" -> opacity absent in the right and left lung. A
  predicative "normal" also negates the finding it follows ("vascular engorgement appears
  within normal limits"). A grade directly before a finding's noun is that finding's ("a large
  hiatal hernia" says nothing of a mediastinum named earlier in the sentence).
* A finding that a more specific neighbour already says is dropped ("calcified granuloma" is
  not also a calcification); a neighbour in another conjunct says nothing of it ("granuloma and
  calcified hilar lymph nodes": both).
* "No acute cardiopulmonary abnormality/process/disease" names no finding and no region of the
  vocabulary, so it yields no triplet; a report saying only that has no positive finding.
* A *sign* read as a finding (costophrenic blunting -> pleural effusion) stands for that finding
  only while nothing else explains it: when its sentence names another cause that it does not
  negate (scarring, pleural thickening: "blunting ... secondary to scarring", "blunting ... old
  pleural scar", "blunted ... which could be due to effusion or scarring") or its clause calls
  it chronic or old ("Chronic blunting of the costophrenic angle"), the sign yields no effusion.
  An effusion the sentence names itself ("could be due to effusion or scarring") is kept.
  Likewise a *nodular* opacity or density that its sentence calls a granuloma ("Nodular
  densities consistent with chronic granulomatous disease") is that granuloma's round shadow,
  not also a nodule; a noun "nodule" stays one ("Dense nodule ... suggesting a previous
  granulomatous process").
* A fracture said of a device is the device's, not a bone's: "fractured"/"broken" in a clause
  that names a device ("The lateral screw is fractured", "fractured sternal wire") or "fracture
  of the <device>", while the clause names no bone (rib, clavicle, spine, shoulder...) other
  than as the device's modifier ("the screw of the clavicular fixation is fractured").
* Hilar vessels are the hila: "prominent/enlarged" said of a group that names the hila ("hilar
  vessels", "prominence of the left hilum which may represent ... vasculature") is no edema;
  only a stated edema/congestion phrase is. A normal/clear attribute still negates edema.
* The IU de-identification mask ``XXXX`` reads as a gap when phrases are matched, so a cue it
  splits is one cue ("the nodule was not XXXX seen": absent).
* A pattern adjective is said of the finding it modifies: a bare "interstitial", "reticular" or
  "reticulonodular" directly before another finding's noun ("reticular opacities", "interstitial
  densities", "interstitial pulmonary edema", "interstitial fibrotic changes", "increased
  interstitial and patchy airspace opacities") describes that finding's pattern and yields no
  interstitial markings (nor a nodule) of its own; as a head ("interstitial markings",
  "reticulonodular changes", "interstitial prominence") it is the finding.
* Findings offered as alternatives are uncertain: findings of one clause joined by "or"
  ("subsegmental atelectasis or scarring", "atelectasis, scarring, or pneumonia", "and/or") that
  no cue governs are each ``uncertain``, the "or" their cue: the sentence says one is there, not
  which. A negation still negates the whole list ("no effusion or pneumothorax"), and after a
  pseudo-negation the "or" joins what did not change ("no change in the effusion or
  atelectasis"), so there it says nothing about certainty.
* A "not seen" said of another image is no negation of this one: "opacity noted, not
  visualized on prior" (a new finding) reads as if the cue were not there; "nodular density
  seen on the frontal view, not identified on the lateral view" is ``uncertain`` (seen on one
  view only). Only "not ..." post cues followed directly by the other image are read so;
  "has resolved since the prior study" still negates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from cxralign.text.cues import (
    HYPOTHETICAL,
    LIST,
    NEGATION,
    PSEUDO,
    PUNCTUATION,
    STOP,
    UNCERTAINTY,
    Cue,
)
from cxralign.text.lexicon import (
    ANATOMY,
    ATTRIBUTE,
    ATTRIBUTES,
    BOTH,
    FINDING,
    FINDING_SPECS,
    Anatomy,
    FindingSpec,
    phrase_table,
)
from cxralign.text.matcher import Entry, Mention, PhraseMatcher

PRESENT: Final = "present"
ABSENT: Final = "absent"
UNCERTAIN: Final = "uncertain"
_SCOPED: Final = (NEGATION, UNCERTAINTY, HYPOTHETICAL)  # the cue families that decide existence

_JOINED: Final = re.compile(r"\b(?:and|otherwise|with)\b", re.I)
# Signs that stand for a finding, the other findings that can explain them, and whether a
# chronic/old clause explains them too (a chronic blunted angle is scarring, not an effusion).
_SIGNS: Final[dict[str, tuple[re.Pattern[str], frozenset[str], bool]]] = {
    "pleural effusion": (
        re.compile(r"blunt", re.I), frozenset({"scarring", "pleural thickening"}), True),
    # "nodular opacity ... reflects granuloma": the round opacity is the granuloma
    "nodule": (re.compile(r"nodular", re.I), frozenset({"calcified granuloma"}), False),
}
# The IU de-identification mask (it replaced words, often of a cue: "not XXXX seen").
_MASK: Final = re.compile(r"\bX{3,}\b")
# Nothing but space (or the de-identification mask) between two words of one phrase.
_ADJACENT: Final = re.compile(rf"(?:\s|-|{_MASK.pattern})*")
# A fracture said of a device: "the screw is fractured", "fractured sternal wire", "fracture of
# the lead". Only with no bone named in the clause ("rib fracture near the lead" is a bone's).
_BROKEN: Final = re.compile(r"(?:fractured|broken)$", re.I)
_OF_DEVICE: Final = re.compile(r"^\s+of\s+(?:the\s+|a\s+|an\s+)?(?:[a-z]+\s+){0,2}$", re.I)
_BONES: Final = frozenset({"rib", "clavicle", "spine", "extrathoracic"})
# A bare pattern adjective (not "interstitial markings", "reticulation") and what may stand
# between it and the noun it modifies: up to three modifiers (adjective-like words, "and"), so
# "interstitial abnormality and opacity" keeps its own head.
_PATTERN_WORD: Final = re.compile(r"(?:interstitial|reticular|reticulated|reticulonodular)", re.I)
_MODIFIER: Final = (r"(?:and|or|x{4}|mild|moderate|severe|diffuse|fine|coarse|new|old|few|small"
                    r"|subtle|faint|slight|some|[a-z]+(?:al|ar|ic|ous|ive|ed|ing|ent|ant|ate|ile"
                    r"|ary|ly|(?<!it)y))")
_MODIFIER_GAP: Final = re.compile(rf"^\s*(?:{_MODIFIER}\s+){{0,3}}$", re.I)
# The text between two findings offered as alternatives ("A or B", "A and/or B", "A or small
# B"; not "A with residual or recurrent B", where "or" joins modifiers), and between list items
# that lead to one ("A, B or C").
_OR: Final = re.compile(r"^\s*,?\s*((?:and\s*/\s*)?or)\b[^,.;]*$", re.I)
# What follows a "not seen"-type cue when it is said of another image: an earlier study, or
# another view of this one.
_OTHER_STUDY: Final = re.compile(
    r"\s*(?:(?:on|in|at|from)\s+)?(?:the\s+|a\s+)?(?:most\s+)?(?:recent\s+)?"
    r"(?:prior|previous|earlier|old|older|preceding|comparison)\b|\s*previously\b", re.I)
_OTHER_VIEW: Final = re.compile(r"\s*(?:on|in)\s+(?:the\s+)?(?:lateral|frontal|pa|ap|oblique)\b",
                                re.I)
_VIEW_ONLY: Final = Entry("cue", Cue(UNCERTAINTY, "post"))
_NOT: Final = re.compile(r"\bnot\b", re.I)
_COORDINATOR: Final = re.compile(r"\b(?:or|and|nor)\b", re.I)
_HAS_OR: Final = re.compile(r"\bor\b", re.I)
_LIST_COMMA: Final = re.compile(r"^\s*,\s*$")
_CHRONIC: Final = re.compile(r"\b(?:chronic|old|long ?standing)\b", re.I)
_LIST_GOES_ON: Final = re.compile(r",|\bor\b|\bnor\b", re.I)
# Text allowed between two anatomy mentions of one group ("heart and mediastinum"; a range,
# "left mid to upper lung", is one group too).
_CONNECTOR: Final = re.compile(
    r"^(?:[\s,/&]|\b(?:and|or|to|the|as well as|medial|lateral|posterior|anterior|peripheral"
    r"|central|inferior|superior|mid|upper|lower|of|in)\b)*$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Triplet:
    """One ⟨region, finding, existence⟩ statement of a sentence, with its evidence span (an exact
    substring of the sentence) and the negation/uncertainty cue that decided it (or None)."""

    region: str
    finding: str
    existence: str
    evidence: str
    cue: str | None


@dataclass(frozen=True, slots=True)
class _Group:
    """Anatomy mentions joined by connectors; ``clause`` is the clause of its first member."""

    members: tuple[Mention, ...]
    start: int
    end: int
    clause: int


def _clauses(text: str, mentions: Sequence[Mention]) -> list[int]:
    """Clause number of each mention: a stop cue opens a new clause, and so does a comma followed
    directly by a new pre cue, unless the list goes on after it ("No consolidation, suspicious
    opacity, or effusion" is one negated list; "No effusion, possible pneumonia" is two)."""
    clause, numbers = 0, []
    for index, mention in enumerate(mentions):
        entry = mention.entry
        if entry.kind == "cue":
            family = entry.value.family
            if family == STOP:
                clause += 1
            elif family == LIST and _opens_clause(text, mentions, index):
                clause += 1
        numbers.append(clause)
    return numbers


def _opens_clause(text: str, mentions: Sequence[Mention], comma: int) -> bool:
    if comma + 1 >= len(mentions):
        return False
    following = mentions[comma + 1]
    cue = following.entry.value if following.entry.kind == "cue" else None
    if cue is None or cue.family not in _SCOPED or cue.direction == "post":
        return False
    if text[mentions[comma].end : following.start].strip():
        return False
    end = next(
        (m.start for m in mentions[comma + 2 :] if m.entry.kind == "cue" and m.entry.value.family == STOP),
        len(text),
    )
    return _LIST_GOES_ON.search(text, following.end, end) is None


def _groups(text: str, mentions: Sequence[Mention], clauses: Sequence[int]) -> list[_Group]:
    groups: list[_Group] = []
    current: list[Mention] = []
    current_clause = 0
    for mention, clause in zip(mentions, clauses, strict=True):
        if mention.entry.kind != ANATOMY:
            continue
        if current and _CONNECTOR.match(text[current[-1].end : mention.start]):
            current.append(mention)
            continue
        if current:
            groups.append(_Group(tuple(current), current[0].start, current[-1].end, current_clause))
        current, current_clause = [mention], clause
    if current:
        groups.append(_Group(tuple(current), current[0].start, current[-1].end, current_clause))
    return groups


def _nearest(
    text: str, mention: Mention, clause: int, groups: Sequence[_Group], kinds: frozenset[str] | None,
    *, own_clause: bool = False,
) -> _Group | None:
    """The group closest to ``mention`` with a member of ``kinds`` (any kind if None): same clause
    first (only there when ``own_clause``), then one not behind a comma, then the nearest, the
    preceding one on ties."""
    best, best_key = None, None
    for group in groups:
        if kinds is not None and not any(m.entry.value.kind in kinds for m in group.members):
            continue
        if own_clause and group.clause != clause:
            continue
        if group.end <= mention.start:
            distance, after = mention.start - group.end, 1
        elif group.start >= mention.end:
            distance, after = group.start - mention.end, 2
        else:
            distance, after = 0, 0
        between = text[min(group.end, mention.end) : max(group.start, mention.start)]
        key = (group.clause != clause, "," in between, distance, after)
        if best_key is None or key < best_key:
            best, best_key = group, key
    return best


def _member_regions(group: _Group) -> list[tuple[Anatomy, tuple[str, ...]]]:
    """Each member with its regions; a zone that named no side ("infrahilar right lung",
    "right medial basilar") takes the side(s) its group names."""
    sides = set()
    for member in group.members:
        anatomy: Anatomy = member.entry.value
        if anatomy.kind == "side":
            sides.update(anatomy.sides)
        elif not anatomy.unsided:
            sides.update(side for side in BOTH if any(r.startswith(side) for r in anatomy.regions))
    out = []
    for member in group.members:
        anatomy = member.entry.value
        regions = anatomy.regions
        if anatomy.unsided and sides:
            regions = tuple(r for r in regions if r.split(" ", 1)[0] in sides) or regions
        out.append((anatomy, regions))
    return out


def _regions(spec: FindingSpec, group: _Group | None) -> tuple[str, ...] | None:
    """Regions for a finding located by ``group``; None when the group shows the phrase is about
    anatomy outside the vocabulary."""
    if group is None:
        return spec.implied
    kinds = {member.entry.value.kind for member in group.members}
    if not kinds & spec.anchors:
        return None  # only excluding anatomy is near: not a finding of our vocabulary
    members = [(a, r) for a, r in _member_regions(group) if a.kind in spec.anchors]
    if any(anatomy.kind != "side" for anatomy, _ in members):  # "right medial basilar": a modifier
        members = [(a, r) for a, r in members if a.kind != "side"]
    regions: list[str] = []
    for anatomy, member_regions in members:
        if anatomy.kind == "side":
            regions.extend(spec.side_region.format(side=side) for side in anatomy.sides)
        else:
            regions.extend(member_regions)
    return tuple(dict.fromkeys(regions)) or spec.implied


class _Certainty:
    """Decides existence for mentions of one sentence from its cue mentions."""

    def __init__(self, text: str, mentions: Sequence[Mention], clauses: Sequence[int]) -> None:
        self._text = text
        self._cues = [
            (mention, clause)
            for mention, clause in zip(mentions, clauses, strict=True)
            if mention.entry.kind == "cue" and mention.entry.value.family in _SCOPED
        ]
        self._mentions = mentions
        self._findings: list[int] | None = None  # finding starts, built when a hedge looks left

    def _own_subject_between(self, end: int, cue_start: int) -> bool:
        """True when a hedge looking left has its own subject after a comma: a finding stands
        between the last comma before the cue and the cue, not joined to a list by a
        coordinator ("Left basilar opacity, pneumonia cannot be excluded": the opacity is
        stated; "Effusion, pneumothorax or consolidation is not seen" is one list)."""
        comma = self._text.rfind(",", end, cue_start)
        if comma < 0:
            return False
        if self._findings is None:
            self._findings = [m.start for m in self._mentions if m.entry.kind == FINDING]
        tail = self._text[comma + 1 : cue_start]
        return (any(comma < start < cue_start for start in self._findings)
                and not _COORDINATOR.search(tail))

    def _governing(self, start: int, end: int, clause: int, families: tuple[str, ...]) -> Mention | None:
        """The nearest cue of ``families`` in the clause whose direction reaches [start, end)."""
        best, best_distance = None, None
        for cue_mention, cue_clause in self._cues:
            cue: Cue = cue_mention.entry.value
            if cue_clause != clause or cue.family not in families:
                continue
            if cue_mention.end <= start and cue.direction in ("pre", "both"):
                distance = start - cue_mention.end
            elif (cue_mention.start >= end and cue.direction in ("post", "both")
                  and not (cue.family == UNCERTAINTY
                           and self._own_subject_between(end, cue_mention.start))):
                distance = cue_mention.start - end
            else:
                continue
            if best_distance is None or distance < best_distance:
                best, best_distance = cue_mention, distance
        return best

    def __call__(self, start: int, end: int, clause: int) -> tuple[str | None, str | None]:
        """Existence and its cue text; existence None when a hypothetical cue governs."""
        cue_mention = self._governing(start, end, clause, _SCOPED)
        if cue_mention is None:
            return PRESENT, None
        family = cue_mention.entry.value.family
        if family == HYPOTHETICAL:
            return None, self._text[cue_mention.start : cue_mention.end]
        if family == NEGATION:
            return ABSENT, self._text[cue_mention.start : cue_mention.end]
        negation = self._governing(cue_mention.start, cue_mention.end, clause, (NEGATION,))
        if negation is not None:  # "no consolidation to suggest pneumonia"
            return ABSENT, self._text[negation.start : negation.end]
        return UNCERTAIN, self._text[cue_mention.start : cue_mention.end]


def _attribute_negations(text: str, mentions: Sequence[Mention], clauses: Sequence[int],
                         groups: Sequence[_Group]) -> dict[int, Mention]:
    """Findings negated by a "normal"/"clear" attribute rather than by a cue (index -> attribute).

    Predicative: "Pulmonary vascular engorgement appears within normal limits" - the attribute
    has no anatomy after it in its clause, and the findings before it are reached without
    crossing anatomy, a cue, a comma or "and"/"otherwise"/"with" ("hyperinflated and otherwise
    clear" keeps its finding). Adjacent: "clear airspace disease" reads "clear of".
    """
    negated: dict[int, Mention] = {}
    for j, attribute in enumerate(mentions):
        if attribute.entry.kind != ATTRIBUTE or not ATTRIBUTES[attribute.entry.value][1]:
            continue
        following = mentions[j + 1] if j + 1 < len(mentions) else None
        if (following is not None and following.entry.kind == FINDING
                and not text[attribute.end : following.start].strip()):
            negated[j + 1] = attribute
        if any(g.clause == clauses[j] and g.start >= attribute.end for g in groups):
            continue  # attributive ("normal pulmonary vascularity"): describes what follows
        for i in range(j - 1, -1, -1):
            mention = mentions[i]
            if clauses[i] != clauses[j] or mention.entry.kind in (ANATOMY, "cue"):
                break
            if _JOINED.search(text, mention.end, attribute.start):
                break
            if mention.entry.kind == FINDING:
                negated[i] = attribute
    return negated


def _absorbed(text: str, mentions: Sequence[Mention], clauses: Sequence[int], index: int,
              finding: str) -> bool:
    """True when a finding that already says ``finding`` is named right beside it, in the same
    conjunct: "calcified granuloma" is one finding, "granuloma and calcified hilar lymph nodes"
    two."""
    absorbers = FINDING_SPECS[finding].absorbed_by
    if not absorbers:
        return False
    for step in (-1, 1):
        j = index + step
        while 0 <= j < len(mentions) and mentions[j].entry.kind == ANATOMY:
            j += step
        if not 0 <= j < len(mentions) or clauses[j] != clauses[index]:
            continue
        other = mentions[j]
        if other.entry.kind != FINDING or not absorbers & set(other.entry.value):
            continue
        left, right = sorted((mentions[index], other), key=lambda m: m.start)
        gap = text[left.end : right.start]
        for anatomy in mentions[min(index, j) + 1 : max(index, j)]:
            gap = gap.replace(text[anatomy.start : anatomy.end], " ")
        if "," not in gap and len(gap.split()) <= 3 and not _new_conjunct(text, mentions, index, j):
            return True
    return False


def _new_conjunct(text: str, mentions: Sequence[Mention], index: int, j: int) -> bool:
    """True when a coordinator stands between mentions ``index`` and ``j`` other than inside a
    run of anatomy ("calcified lung and hilar granulomas" is one phrase)."""
    run = mentions[min(index, j) : max(index, j) + 1]
    return any(
        not (before.entry.kind == ANATOMY and after.entry.kind == ANATOMY)
        and _COORDINATOR.search(text, before.end, after.start)
        for before, after in zip(run, run[1:], strict=False)
    )


def _next_head(text: str, mentions: Sequence[Mention], clauses: Sequence[int], index: int,
               fits: Callable[[str], object]) -> Mention | None:
    """The first mention after ``index`` in its clause that is not anatomy, when every gap on
    the way ``fits`` (is truthy for it; anatomy words between are part of the phrase); None
    otherwise."""
    gap_start = mentions[index].end
    for other, clause in zip(mentions[index + 1 :], clauses[index + 1 :], strict=True):
        if clause != clauses[index] or not fits(text[gap_start : other.start]):
            return None
        if other.entry.kind != ANATOMY:
            return other
        gap_start = other.end
    return None


def _modifies_finding(text: str, mentions: Sequence[Mention], clauses: Sequence[int],
                      index: int) -> bool:
    """True when a grading attribute stands directly before a finding's noun: "a large hiatal
    hernia", "small left effusion" grade that finding and say nothing of an organ named
    elsewhere in the sentence. (Normal/clear are not grades: "lungs are clear" still says so
    before a run-on "pneumothorax".)"""
    head = _next_head(text, mentions, clauses, index, _ADJACENT.fullmatch)
    return head is not None and head.entry.kind == FINDING


def _explained_sign(text: str, mentions: Sequence[Mention], clauses: Sequence[int], index: int,
                    finding: str, certainty: _Certainty) -> bool:
    """True when the mention is a sign of ``finding`` that its sentence explains by another,
    not negated, finding or (for a sign that chronicity explains) its clause calls chronic (see
    the module docstring)."""
    if finding not in _SIGNS:
        return False
    pattern, causes, chronic_explains = _SIGNS[finding]
    mention = mentions[index]
    if not pattern.match(text, mention.start):
        return False
    for other, clause in zip(mentions, clauses, strict=True):
        if (other.entry.kind == FINDING and causes & set(other.entry.value)
                and certainty(other.start, other.end, clause)[0] != ABSENT):
            return True
    if not chronic_explains:
        return False
    before = [m.end for m, c in zip(mentions, clauses, strict=True) if c < clauses[index]]
    return _CHRONIC.search(text, max(before, default=0), mention.start) is not None


def _device_fracture(text: str, mentions: Sequence[Mention], clauses: Sequence[int],
                     index: int) -> bool:
    """True when a fracture mention says a device broke, not a bone (see the module docstring)."""
    mention, clause = mentions[index], clauses[index]
    in_clause = [m for m, c in zip(mentions, clauses, strict=True) if c == clause]
    devices = [m for m in in_clause
               if m.entry.kind == FINDING and "support device" in m.entry.value]
    device_starts = {m.start for m in devices}
    for position, other in enumerate(in_clause):
        if other.entry.kind != ANATOMY or other.entry.value.kind not in _BONES:
            continue
        following = in_clause[position + 1] if position + 1 < len(in_clause) else None
        modifies_device = (following is not None and following.start in device_starts
                           and not text[other.end : following.start].strip())
        if not modifies_device:  # "clavicular fixation" names the device, not a broken bone
            return False
    if _BROKEN.search(text, mention.start, mention.end):
        return bool(devices)
    return any(m.start >= mention.end and _OF_DEVICE.match(text[mention.end : m.start])
               for m in devices)


def _pattern_modifier(text: str, mentions: Sequence[Mention], clauses: Sequence[int],
                      index: int) -> bool:
    """True when the mention is a bare pattern adjective of the next finding's noun in its
    clause (see the module docstring); anatomy words between them are part of the phrase."""
    mention = mentions[index]
    if not _PATTERN_WORD.fullmatch(text, mention.start, mention.end):
        return False
    head = _next_head(text, mentions, clauses, index,
                      lambda gap: _MODIFIER_GAP.match(gap + " "))
    return (head is not None and head.entry.kind == FINDING
            and not set(head.entry.value) & set(mention.entry.value))


def _alternatives(text: str, mentions: Sequence[Mention], clauses: Sequence[int],
                  pseudo: Sequence[Mention]) -> dict[int, str]:
    """Finding mentions offered as alternatives (see the module docstring), index -> the "or"
    that joins them (its text in the sentence): runs of findings of one clause, linked by "or"
    or by list commas, whose last link is an "or", and not after a pseudo-negation
    (``pseudo``: its mentions, removed from ``mentions``)."""
    if not _HAS_OR.search(text):
        return {}
    findings = [i for i, m in enumerate(mentions) if m.entry.kind == FINDING]
    alternatives: dict[int, str] = {}
    run: list[int] = []
    for left, right in zip(findings, findings[1:], strict=False):
        gap = text[mentions[left].end : mentions[right].start]
        joined = _OR.match(gap)
        if ((joined is None and not _LIST_COMMA.match(gap)) or clauses[left] != clauses[right]
                or any(m.entry.kind != ANATOMY and m.entry != PUNCTUATION[","]
                       for m in mentions[left + 1 : right])
                or (pseudo and _after_pseudo(mentions, pseudo, left))):
            run = []
        elif joined is not None:
            alternatives.update(dict.fromkeys([*(run or [left]), right], joined.group(1)))
            run = []
        else:
            run = run or [left]
            run.append(right)
    return alternatives


def _after_pseudo(mentions: Sequence[Mention], pseudo: Sequence[Mention], index: int) -> bool:
    """Whether a pseudo-negation ("no change in") precedes the mention with no stop cue between."""
    start = mentions[index].start
    return any(
        cue.end <= start and not any(
            m.entry.kind == "cue" and m.entry.value.family == STOP and cue.end <= m.start < start
            for m in mentions)
        for cue in pseudo)


def _other_image(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """The mentions with each "not ..." post negation that is said of another image read as
    such (see the module docstring): dropped for an earlier study, uncertainty for a view."""
    if not _NOT.search(text):
        return list(mentions)
    out = []
    for mention in mentions:
        entry = mention.entry
        if (entry.kind == "cue" and entry.value.family == NEGATION
                and entry.value.direction == "post"
                and text[mention.start : mention.start + 4].lower() == "not "):
            if _OTHER_STUDY.match(text, mention.end):
                continue
            if _OTHER_VIEW.match(text, mention.end):
                mention = Mention(mention.start, mention.end, _VIEW_ONLY)
        out.append(mention)
    return out


def _hilar(group: _Group) -> bool:
    """True for a group that names the hila ("hilar vessels", "left hilum")."""
    return any(m.entry.value.kind == "hilum" for m in group.members)


def resolve(text: str, mentions: Sequence[Mention]) -> list[Triplet]:
    """Triplets of one sentence from its mentions (shared by the rule and stanza backends)."""
    pseudo = [m for m in mentions if m.entry.kind == "cue" and m.entry.value.family == PSEUDO]
    if pseudo:
        mentions = [m for m in mentions if m not in pseudo]
    mentions = _other_image(text, mentions)
    clauses = _clauses(text, mentions)
    alternatives: dict[int, str] | None = None  # built when a finding is first read as present
    groups = _groups(text, mentions, clauses)
    certainty = _Certainty(text, mentions, clauses)
    by_attribute = _attribute_negations(text, mentions, clauses, groups)
    found: dict[tuple[str, str, str], Triplet] = {}

    def emit(regions: Sequence[str], finding: str, existence: str, evidence: str, cue: str | None) -> None:
        for region in regions:
            found.setdefault((region, finding, existence), Triplet(region, finding, existence, evidence, cue))

    for index, (mention, clause) in enumerate(zip(mentions, clauses, strict=True)):
        kind = mention.entry.kind
        if kind == FINDING:
            if index in by_attribute:
                attribute = by_attribute[index]
                existence, cue = ABSENT, text[attribute.start : attribute.end]
            else:
                existence, cue = certainty(mention.start, mention.end, clause)
            if existence == PRESENT:
                if alternatives is None:
                    alternatives = _alternatives(text, mentions, clauses, pseudo)
                if index in alternatives:
                    existence, cue = UNCERTAIN, alternatives[index]
            if existence is None:
                continue
            if ("interstitial markings" in mention.entry.value
                    and _pattern_modifier(text, mentions, clauses, index)):
                continue
            evidence = text[mention.start : mention.end]
            for finding in mention.entry.value:
                if (_absorbed(text, mentions, clauses, index, finding)
                        or _explained_sign(text, mentions, clauses, index, finding, certainty)
                        or (finding == "fracture"
                            and _device_fracture(text, mentions, clauses, index))):
                    continue
                spec = FINDING_SPECS[finding]
                # "Left basilar opacity, no effusion": a negation says nothing about other clauses
                group = _nearest(text, mention, clause, groups, spec.anchors | spec.excluded_by,
                                 own_clause=existence == ABSENT)
                regions = _regions(spec, group)
                if regions is not None:
                    emit(regions, finding, existence, evidence, cue)
        elif kind == ATTRIBUTE:
            table, says_absent = ATTRIBUTES[mention.entry.value]
            if not says_absent and _modifies_finding(text, mentions, clauses, index):
                continue
            group = _nearest(text, mention, clause, groups, frozenset(table))
            if group is None:
                continue
            own = _nearest(text, mention, clause, groups, None, own_clause=True)
            if not says_absent and (_hilar(group) or (own is not None and _hilar(own))):
                table = {kind: tuple(f for f in found if f != "edema")
                         for kind, found in table.items()}
            if says_absent:
                existence, cue = ABSENT, text[mention.start : mention.end]
            else:
                existence, cue = certainty(mention.start, mention.end, clause)
                if existence is None:
                    continue
            span = (min(group.start, mention.start), max(group.end, mention.end))
            evidence = text[span[0] : span[1]]
            for anatomy, member_regions in _member_regions(group):
                for finding in table.get(anatomy.kind, ()):
                    spec = FINDING_SPECS[finding]
                    if anatomy.kind == "side":
                        regions = tuple(spec.side_region.format(side=s) for s in anatomy.sides)
                    else:  # "cardiomediastinal" + "enlarged": each finding keeps its own part
                        own = tuple(r for r in member_regions if r in spec.implied)
                        regions = own or member_regions or spec.implied
                    emit(regions, finding, existence, evidence, cue)
    return list(found.values())


class RuleParser:
    """Offline, rule-based triplet parser (the default backend)."""

    backend_name: Final = "rules"

    def __init__(self) -> None:
        self._matcher = PhraseMatcher(phrase_table(), PUNCTUATION)

    def scan(self, sentence: str) -> list[Mention]:
        """The lexicon mentions of a sentence (what :func:`resolve` reads); a de-identification
        mask reads as a gap, so a cue it splits ("not XXXX seen") is still one cue."""
        if _MASK.search(sentence):
            sentence = _MASK.sub(lambda m: " " * len(m.group()), sentence)
        return self._matcher.scan(sentence)

    def parse(self, sentence: str) -> list[Triplet]:
        """The triplets of one sentence."""
        return resolve(sentence, self.scan(sentence))

    def parse_many(self, sentences: Sequence[str]) -> list[list[Triplet]]:
        """The triplets of each sentence (the interface every backend offers)."""
        return [self.parse(sentence) for sentence in sentences]
