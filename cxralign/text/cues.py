"""Negation, uncertainty, hypothetical, pseudo-negation and scope-ending cues (NegEx/ConText style).

The cue words are seeded from the lemmas of the CheXpert labeler's negation and uncertainty
patterns (``no``, ``without``, ``free``, ``negative``, ``clear``, ``resolve``, ``absent``,
``may/could/might``, ``possible/probable/questionable/suspect``, ``suggest``, ``represent``,
``cannot exclude/rule out``, ``concern``, ``worrisome``, ``differential``, ``versus``), which are
dependency patterns there and phrases here. ``direction`` says where a cue looks: ``pre`` cues
govern the findings after them, ``post`` cues those before them, ``both`` either side ("A versus
B"). Pseudo cues ("no change", "not significantly changed") contain a negation word but negate
nothing; they are matched as longer phrases so that their "no"/"not" never becomes a cue. A
resolution that is denied or incomplete ("has not resolved", "partially resolved", "near
complete resolution of") is pseudo too: the finding is still there.
Stop cues end a cue's scope ("No effusion but small pneumothorax").

Hypothetical cues (ConText's HYPOTHETICAL) name a finding as the *target* of a test, a
recommendation or a condition: "CT can be performed to identify a small nodule", "limits
evaluation for an effusion", "rule out pneumonia", "if there is any adenopathy". Such a sentence
says what someone might look for, not what the image shows or suggests, so it is neither
uncertain (a radiologist's hedge about this image) nor absent. Hedges stay uncertainty cues:
"may represent", "cannot exclude", "correlate clinically for".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cxralign.text.matcher import Entry

NEGATION: Final = "negation"
UNCERTAINTY: Final = "uncertainty"
HYPOTHETICAL: Final = "hypothetical"
PSEUDO: Final = "pseudo"
STOP: Final = "stop"
LIST: Final = "list"  # a comma: joins list items, never ends a scope by itself


@dataclass(frozen=True, slots=True)
class Cue:
    """A cue's family (negation/uncertainty/hypothetical/pseudo/stop) and direction
    (pre/post/both)."""

    family: str
    direction: str = "pre"


_NEGATION_PRE = (
    "no", "not", "without", "free of", "free from", "clear of", "negative for", "no evidence of",
    "no evidence for", "no radiographic evidence of", "no sign of", "no signs of", "no findings of",
    "no definite", "no obvious", "no convincing", "no visible", "absence of", "absent", "nor",
    "neither", "resolution of", "interval resolution of", "resolved", "removal of",
    "interval removal of", "rules out", "no longer", "never", "negative", "there is no",
    "there are no", "without evidence of", "without radiographic evidence of", "rather than",
    "grossly clear of", "otherwise clear of", "clearing of", "interval clearing of",
)
_NEGATION_POST = (
    "not seen", "not identified", "not visualized", "not appreciated", "not evident",
    "not present", "not demonstrated", "not detected", "not noted", "not visible", "not apparent",
    "no longer seen", "no longer visualized", "no longer visible", "no longer present",
    "no longer evident", "no longer identified", "no longer appreciated", "has resolved",
    "have resolved", "is absent", "are absent", "ruled out", "removed", "has been removed",
    "have been removed", "is negative", "are negative", "not clearly seen", "not definitely seen",
    "not well seen", "is gone", "has cleared", "have cleared", "cleared", "unlikely",
    "is unlikely", "are unlikely",
)
_UNCERTAINTY_PRE = (
    "may", "might", "could", "possible", "possibly", "probable", "probably", "likely", "presumably",
    "presumed", "questionable", "question of", "question", "suspicious for", "suspicious",
    "suspicion for", "suspicion of", "suspect", "suspected", "concerning for", "concern for",
    "worrisome for", "suggestive of", "suggesting", "suggests", "suggest", "suggestion of",
    "may represent", "could represent", "may reflect", "could reflect", "cannot exclude",
    "can not exclude", "cannot rule out", "can not rule out", "not exclude", "differential",
    "differential diagnosis", "differential includes", "consider", "considered",
    "compatible with", "equivocal", "indeterminate", "uncertain", "perhaps", "maybe",
    "less likely", "most likely", "more likely", "favor", "favored", "versus", "vs",
    "could be", "may be", "might be", "borderline", "correlate clinically for", "correlate for",
    "clinical correlation for", "consideration", "considerations include", "symptoms of",
    "if any",
)
_UNCERTAINTY_POST = (
    "cannot be excluded", "can not be excluded", "cannot be ruled out", "can not be ruled out",
    "not excluded", "is not excluded", "are not excluded", "not ruled out", "not entirely excluded",
    "not completely excluded", "not be excluded", "is possible", "are possible", "is suspected",
    "are suspected", "is questioned", "is likely", "are likely", "is considered",
    "is not entirely excluded", "not totally excluded", "would be a consideration",
    "may be present", "might be present", "could be present", "may be seen", "may be noted",
    "is less likely", "are less likely", "is favored", "is probable", "is questionable",
)
_HYPOTHETICAL_PRE = (
    "to identify", "to evaluate for", "evaluate for", "evaluation for", "to exclude",
    "to exclude the possibility of", "to rule out", "rule out", "for evaluation of",
    "to assess for", "assess for", "to look for", "to determine if there is",
    "to determine whether there is", "if", "if there is", "if there are", "whether there is",
    "whether there are", "in case of",
)
_PSEUDO = (
    "no change", "no changes", "no significant change", "no significant changes",
    "no interval change", "no interval changes", "no significant interval change",
    "no appreciable change", "no substantial change", "no definite change", "no new change",
    "not significantly changed", "not changed", "not significantly increased",
    "not significantly decreased", "no increase", "no significant increase",
    "no decrease", "no significant decrease", "without change", "without interval change",
    "without significant change", "not only", "gram negative", "no further change",
    # a resolution that is denied or incomplete leaves the finding there
    "not resolved", "has not resolved", "have not resolved", "not completely resolved",
    "not fully resolved", "not entirely resolved", "partially resolved", "incompletely resolved",
    "nearly resolved", "almost resolved", "almost completely resolved",
    "nearly completely resolved", "near complete resolution", "near complete resolution of",
    "partial resolution", "partial resolution of", "incomplete resolution",
    "incomplete resolution of", "partial clearing", "partial clearing of", "not cleared",
    "has not cleared", "have not cleared",
)
_STOP = (
    "but", "however", "although", "though", "except", "except for", "aside from", "apart from",
    "which", "whereas", "while", "yet", "nevertheless", "there is", "there are", "there has been",
    "there have been",
)


def cue_table() -> dict[str, Entry]:
    """Cue phrase -> Entry(kind='cue', value=Cue)."""
    table: dict[str, Entry] = {}
    groups = (
        (_NEGATION_PRE, Cue(NEGATION, "pre")),
        (_NEGATION_POST, Cue(NEGATION, "post")),
        (_UNCERTAINTY_PRE, Cue(UNCERTAINTY, "pre")),
        (_UNCERTAINTY_POST, Cue(UNCERTAINTY, "post")),
        (_HYPOTHETICAL_PRE, Cue(HYPOTHETICAL, "pre")),
        (_PSEUDO, Cue(PSEUDO)),
        (_STOP, Cue(STOP)),
    )
    for phrases, cue in groups:
        for phrase in phrases:
            table[phrase] = Entry("cue", cue)
    for both in ("versus", "vs", "unlikely", "resolved", "absent", "if any"):
        table[both] = Entry("cue", Cue(table[both].value.family, "both"))
    return table


PUNCTUATION: Final = {
    ";": Entry("cue", Cue(STOP)),
    ":": Entry("cue", Cue(STOP)),
    ",": Entry("cue", Cue(LIST)),
    "?": Entry("cue", Cue(UNCERTAINTY, "post")),
}
