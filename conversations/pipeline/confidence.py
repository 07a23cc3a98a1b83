"""How Sidekick turns its evidence into one confidence figure in 0.0–1.0.

Auto-send is earned by evidence the model cannot fake, never granted by the model's word:

    confidence = evidence × self_rating × reviewer − penalties

- evidence (0 or 1), decided without any model:
    * ``source``: the reply cites a chunk that retrieval returned *for this message* above the
      relevance floor (full-text rank ≥ LEXICAL_FLOOR or cosine distance ≤ VECTOR_FLOOR) and that
      speaks to the message (close in meaning on the vector side, or enough of the message's
      words stand in it: see `message_covered`),
      and at least GROUNDED_SHARE of the reply's informative words stand in the cited chunks (a
      model that cites a real source but says something else earns nothing);
    * ``conversational``: the contact's message is only a greeting or thanks, or confirms a time
      that Sidekick's or a setter's last message offered (recognised from the words, in six
      languages; see `conversational_intent`);
    * ``requested``: a setter asked for this message (an on-demand follow-up);
    * ``scheduled``: an admin's follow-up sequence asked for this message (a timed step);
    * otherwise ``none``: 0, whatever the model claims.
- self_rating: the drafting model's own confidence (0–1). It can only lower the figure.
- reviewer: the overseer reviewer's verdict: approve 1.0, rewrite 0.9, no review 0.9 (veto never
  reaches here: it escalates). It can only lower the figure, never raise it.
- penalties: the sum of non-blocking rule hits (none today; kept for future soft rules).

So the model's self-rating alone is never enough (evidence 0 gives 0), and the best a model can
do for itself is not to lower what the evidence earned. Every blocking rule (the inbound screen,
the outbound checks, the 24-hour window…) forbids sending whatever the figure. The threshold is
the workspace's (default 0.8); admins cannot set it below THRESHOLD_FLOOR, super-admins not below
THRESHOLD_MINIMUM, and the pipeline never uses less than THRESHOLD_MINIMUM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conversations.pipeline.text import words, words_deobfuscated

REVIEWER_SCORES = {"approve": 1.0, "rewrite": 0.9, "veto": 0.0, None: 0.9}
LEXICAL_FLOOR = 0.02       # Postgres ts_rank (normalisation 1): the chunk shares the message's words, not only stop words
VECTOR_FLOOR = 0.6         # cosine distance of the chunk to the contact's words
GROUNDED_SHARE = 0.5       # share of the reply's informative words found in the cited chunks
THRESHOLD_FLOOR = 0.7      # the lowest threshold an admin may set
THRESHOLD_MINIMUM = 0.5    # the lowest threshold anyone may set (super-admins), and the pipeline uses
EVIDENCE_KINDS = ("source", "conversational", "requested", "scheduled", "none")

# Words that carry no claim: a reply made only of these says nothing a source must back.
_FILLER = set(("hi hello hey thanks thank you welcome glad happy help helping sure yes yeah great awesome perfect love "
               "would like let know feel free anytime question questions today soon see there here get got great good "
               "really absolutely course definitely book booking booked reach message answer asked ask wonderful amazing "
               "lovely nice day week time hola gracias claro bonjour merci oui hallo danke gerne ciao grazie certo ola "
               "obrigado obrigada sim").split())
_STOP = set(("a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
             "these those i you he she we they me my your our their us them do does did have has had not no so than then "
             "what which who whom when where why how can could will would should may might must just only also very too "
             "more most some any all each every both few many much such own same other into out up down over under again "
             "about ll ve re don t s d m de la el los las en y o que un una es por para con se su lo le les des et est pour "
             "there here near nearby around close still even please pls get got any anyone someone anything something "
             "avec une der die das und ist mit ein eine zu il di e che per con um uma os as do da no na").split())


@dataclass(frozen=True)
class Confidence:
    value: float
    parts: dict = field(default_factory=dict)


def _clamp(x: float) -> float:
    return max(0.0, min(1.0, x))


def relevant(chunk) -> bool:
    """Whether retrieval found this chunk relevant to the message on its own numbers (not the model's)."""
    lexical = getattr(chunk, "lexical_score", None)
    distance = getattr(chunk, "vector_distance", None)
    return (lexical is not None and lexical >= LEXICAL_FLOOR) or (distance is not None and distance <= VECTOR_FLOOR)


def _informative(text: str) -> list[str]:
    return [w for w in words_deobfuscated(text).split()
            if len(w) > 2 and w not in _STOP and w not in _FILLER and not w.isdigit()]


def grounded_share(reply: str, sources_text: str) -> float:
    """Share of the reply's informative words (prefix-matched, so plurals and tenses count) in the sources."""
    reply_words = _informative(reply)
    if not reply_words:
        return 0.0
    source_prefixes = {w[:5] for w in words_deobfuscated(sources_text).split()}
    return sum(1 for w in reply_words if w[:5] in source_prefixes) / len(reply_words)


_GREETING = set(("hi hello hey hiya yo howdy morning evening afternoon good thanks thank you thx ty tysm cheers appreciate "
                 "it much so very lots great awesome perfect cool nice amazing wonderful lovely love hola buenas "
                 "buenos dias tardes noches gracias muchas mil genial bonjour salut bonsoir merci beaucoup super "
                 "parfait hallo moin guten tag morgen abend danke dank vielen herzlichen schon toll ciao buongiorno buonasera salve grazie "
                 "mille perfetto ola oi bom dia boa tarde noite obrigado obrigada muito otimo perfeito legal valeu there "
                 "all team guys you u again have a an day weekend bye goodbye see later take care night soon talk "
                 "adios chao chau hasta luego pronto bonne journee soiree tschuss schonen buona giornata serata tchau "
                 "ate logo buen buena bueno feliz bonne bom boa buon bel").split())
_THANKS_OR_BYE = set(("thanks thank thx ty tysm cheers appreciate gracias merci danke dank grazie obrigado obrigada valeu "
                      "bye goodbye later care adios chao chau luego journee tschuss tchau").split())
_ACK = set("yes yeah yep ok okay sure si sim oui ja vale".split())
_AFFIRM = set(("yes yeah yep yup sure ok okay perfect great works work fine good sounds confirmed confirm book lets "
               "si sim oui ja certo vale perfecto perfeito parfait super claro bene va daccord d accord genial top "
               "passt gut dale listo combinado fechado").split())
_DAYS = set(("monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
             "lunes martes miercoles jueves viernes sabado domingo segunda terca quarta quinta sexta "
             "lundi mardi mercredi jeudi vendredi samedi dimanche montag dienstag mittwoch donnerstag freitag samstag "
             "sonntag lunedi martedi mercoledi giovedi venerdi sabato domenica tomorrow manana demain morgen domani "
             "amanha").split())
_TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm|h|hs|uhr)?\b")


def conversational_intent(inbound: str, *, last_outbound: str = "") -> str:
    """'greeting' / 'thanks' for a message that is only that, 'confirmation' for a yes to a time or
    day Sidekick's or a setter's last message offered, else ''. Decided from the words alone."""
    tokens = words(inbound).split()
    if not tokens:
        return ""
    token_set = set(tokens)
    # "ok"/"yes" pass as small talk only beside a thanks or a goodbye ("yes thanks", "ok bye"): alone they
    # may accept an offer, and then they must be a confirmation (below).
    if len(tokens) <= 10 and token_set <= _GREETING | _ACK and (not token_set & _ACK or token_set & _THANKS_OR_BYE):
        return "thanks" if token_set & _THANKS_OR_BYE else "greeting"
    if len(tokens) <= 12 and _AFFIRM & set(tokens) and last_outbound:
        offered = words(last_outbound)
        times = {m.group(0).replace(" ", "") for m in _TIME.finditer(words(inbound)) if m.group(0).strip()}
        days = {t for t in tokens if t in _DAYS}
        offered_times = {m.group(0).replace(" ", "") for m in _TIME.finditer(offered) if m.group(0).strip()}
        if (times and times <= offered_times) or (days and all(f" {d} " in offered for d in days) and not times):
            return "confirmation"
    return ""


def message_covered(message: str, chunk) -> bool:
    """Whether the chunk speaks to what the contact wrote: the vector side found it close in meaning,
    or enough of the message's words stand in it (two, or half of them; one will do only in a longer
    message, where the rest is usually context). One shared word such as "studio" in a three-word
    message is not enough."""
    distance = getattr(chunk, "vector_distance", None)
    if distance is not None and distance <= VECTOR_FLOOR:
        return True
    asked = {w for w in words_deobfuscated(message).split() if len(w) > 2 and w not in _STOP and not w.isdigit()}
    if not asked:
        return True  # nothing to compare (the message is all small words): the other rules decide
    source_prefixes = {w[:5] for w in words_deobfuscated(chunk.text).split()}
    shared = sum(1 for w in asked if w[:5] in source_prefixes)
    return shared >= 2 or shared / len(asked) >= 0.5 or (len(asked) >= 4 and shared >= 1)


def evidence(*, reply: str, cited: set[int], sources: list, conversational: str,
             message: str | None = None) -> tuple[str, dict]:
    """Which evidence backs the reply ('source', 'conversational' or 'none') and the numbers behind it.

    A cited source counts when retrieval found it relevant, it speaks to the contact's `message`
    (`message_covered`), and the reply draws on its words (`grounded_share`)."""
    retrieved = {c.chunk_id: c for c in sources}
    cited_relevant = [retrieved[i] for i in cited if i in retrieved and relevant(retrieved[i])
                      and (message is None or message_covered(message, retrieved[i]))]
    detail = {"cited": sorted(cited), "cited_retrieved": sorted(i for i in cited if i in retrieved),
              "cited_relevant": sorted(c.chunk_id for c in cited_relevant), "conversational": conversational}
    if cited_relevant:
        share = grounded_share(reply, "\n".join(c.text for c in cited_relevant))
        detail["grounded_share"] = round(share, 3)
        if share >= GROUNDED_SHARE:
            return "source", detail
    if conversational:
        return "conversational", detail
    return "none", detail


def combine(*, self_rating: float, evidence_kind: str, reviewer_verdict: str | None,
            penalties: list[float] | None = None, detail: dict | None = None) -> Confidence:
    if reviewer_verdict not in REVIEWER_SCORES:
        raise ValueError(f"unknown reviewer verdict {reviewer_verdict!r}")
    if evidence_kind not in EVIDENCE_KINDS:
        raise ValueError(f"unknown evidence {evidence_kind!r}")
    parts = {
        "evidence": 0.0 if evidence_kind == "none" else 1.0,
        "self_rating": _clamp(float(self_rating)),
        "reviewer": REVIEWER_SCORES[reviewer_verdict],
    }
    penalty = sum(penalties or [])
    value = round(_clamp(parts["evidence"] * parts["self_rating"] * parts["reviewer"] - penalty), 4)
    return Confidence(value=value, parts={**parts, "evidence_kind": evidence_kind, "evidence_detail": detail or {},
                                          "penalty": penalty, "value": value, "formula": "evidence × self × reviewer"})


def effective_threshold(threshold: float) -> float:
    return max(float(threshold), THRESHOLD_MINIMUM)


def should_auto_send(*, confidence: float, threshold: float, blocking_hits: int) -> bool:
    """Auto-send only at or above the threshold and with no blocking rule; never below."""
    return blocking_hits == 0 and confidence >= effective_threshold(threshold)
