"""AutoCRM's deterministic grammar: the signed-in user's chat text → CRM operations, without a model.

Pure functions, no database: `crm_parse` returns what was asked (an update with its target and
operations, an undo, or a CRM ask that cannot be done yet) or None when the text is not a CRM command,
in which case the normal assistant answer handles it. Only the user's own chat text is ever given to
it: never a DM, a contact's name or lead memory (a contact called "set @x score 0" is data, not a
command). The target stays a reference (a name, an @handle, or the page's contact for "her", "this
contact"); resolving it against the workspace is `assistant.crm`'s job.

English and Spanish for the main verbs. Exact wording only: typos are out of scope here (the model
path, later, handles free phrasing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UPDATE, UNDO, UNSUPPORTED = "update", "undo", "unsupported"
NAME, HANDLE, CONTEXT = "name", "handle", "context"

STAGES = {
    "new": "new", "engaged": "engaged", "qualified": "qualified", "booked": "booked", "customer": "customer",
    "lost": "lost", "ghosted": "ghosted",
    "nuevo": "new", "nueva": "new", "interesado": "engaged", "interesada": "engaged",
    "calificado": "qualified", "calificada": "qualified", "cualificado": "qualified", "cualificada": "qualified",
    "agendado": "booked", "agendada": "booked", "reservado": "booked", "reservada": "booked",
    "cliente": "customer", "perdido": "lost", "perdida": "lost",
}
SENTIMENTS = {
    "positive": "positive", "neutral": "neutral", "negative": "negative", "unknown": "unknown",
    "positivo": "positive", "positiva": "positive", "neutro": "neutral", "neutra": "neutral",
    "negativo": "negative", "negativa": "negative", "desconocido": "unknown",
}
PRONOUNS = {"her", "him", "them", "this contact", "this lead", "this person", "ella", "él", "este contacto",
            "este lead", "esta persona"}
# Spanish verbs with the pronoun attached ("muévela a booked"): the page's contact.
CLITICS = r"(?P<who>mu[eé]vela|mu[eé]velo|p[aá]sala|p[aá]salo|ponla|ponlo)"


@dataclass(frozen=True)
class Target:
    kind: str  # NAME, HANDLE or CONTEXT
    value: str = ""


@dataclass(frozen=True)
class Parsed:
    intent: str
    target: Target | None = None
    # (field, value): ("stage", "booked"), ("sentiment", "negative"), ("lead_score", 80), ("note", "text")
    operations: tuple = field(default_factory=tuple)
    reason: str = ""  # for UNSUPPORTED: what cannot be done yet

    def entities(self) -> dict:
        return {"target": {"kind": self.target.kind, "value": self.target.value} if self.target else None,
                "operations": [list(op) for op in self.operations]}


def _target(raw: str) -> Target | None:
    """A name, an @handle or a pronoun; None when it cannot be a contact reference."""
    raw = raw.strip().strip("\"'“”").strip()
    raw = re.sub(r"[’']s$", "", raw).strip()
    lowered = raw.lower()
    if lowered in PRONOUNS or re.fullmatch(CLITICS, lowered):
        return Target(CONTEXT)
    if re.fullmatch(r"@[\w.]{1,100}", raw):
        return Target(HANDLE, raw[1:])
    # A name: one to four words of letters (with . - '), nothing that looks like a sentence.
    if re.fullmatch(r"[^\W\d_][\w.'’-]*(?: [^\W\d_][\w.'’-]*){0,3}", raw) and len(raw) <= 100:
        return Target(NAME, raw)
    return None


def _score(raw: str) -> int | None:
    return int(raw) if re.fullmatch(r"-?\d{1,4}", raw) else None


WHO = r"(?P<who>@[\w.]+|[^\W\d_][\w.'’ -]*?)"
STAGE = r"(?P<stage>[^\W\d_]+)"
SENT = r"(?P<sent>[^\W\d_]+)"
NUM = r"(?P<num>-?\d{1,4})"
A = r"(?:a |al )?"  # Spanish personal "a"

# (pattern, field). Tried in order; the first whose target and value are valid wins.
_RULES: list[tuple[str, str]] = [
    # stage
    (rf"(?:move|put) {WHO} (?:to|in|into) (?:the )?{STAGE}(?: stage)?", "stage"),
    (rf"(?:set|change|update) {WHO}(?:[’']s)? stage (?:to |as |= )?{STAGE}", "stage"),
    (rf"(?:set|change|update) (?:the )?stage (?:of|for) {WHO} (?:to |as )?{STAGE}", "stage"),
    (rf"mark {WHO} (?:as )?{STAGE}", "stage"),
    (rf"{WHO}(?:[’']s)? stage (?:is |to |= )?{STAGE}", "stage"),
    (rf"(?:mover|mueve|mové|pasar|pasa|poner|pon) {A}{WHO} (?:a|en|como) {STAGE}", "stage"),
    (rf"{CLITICS} (?:a|en|como) {STAGE}", "stage"),
    (rf"(?:cambiar|cambia|poner|pon) (?:la )?etapa de {WHO} (?:a |en |como )?{STAGE}", "stage"),
    (rf"etapa de {WHO}:? {STAGE}", "stage"),
    # lead score
    (rf"give {WHO} a (?:lead )?score of {NUM}", "lead_score"),
    (rf"(?:set|change|update|give) {WHO}(?:[’']s)? (?:lead )?score (?:to |of |= |at )?{NUM}", "lead_score"),
    (rf"(?:set|change|update) (?:the )?(?:lead )?score (?:of|for) {WHO} (?:to |at )?{NUM}", "lead_score"),
    (rf"(?:lead )?score {NUM} (?:for|to|on) {WHO}", "lead_score"),
    (rf"{WHO}(?:[’']s)? (?:lead )?score (?:is |to |= )?{NUM}", "lead_score"),
    (rf"(?:pon |poner |dale |dar )?(?:una )?puntuaci[oó]n (?:de )?{NUM} (?:para|a) {WHO}", "lead_score"),
    (rf"(?:pon |poner |cambia |cambiar )?(?:la )?puntuaci[oó]n de {WHO} (?:a |en |= )?{NUM}", "lead_score"),
    # sentiment
    (rf"(?:set|change|update) {WHO}(?:[’']s)? sentiment (?:to |as |= )?{SENT}", "sentiment"),
    (rf"(?:set|change|update) (?:the )?sentiment (?:of|for) {WHO} (?:to |as )?{SENT}", "sentiment"),
    (rf"{WHO}(?:[’']s)? sentiment (?:is |to |= )?{SENT}", "sentiment"),
    (rf"(?:pon |poner |cambia |cambiar )?(?:el )?sentimiento de {WHO} (?:a |en |= |es )?{SENT}", "sentiment"),
    # a note (a lead memory fact)
    (r"(?:add (?:a )?)?note (?:on|for|to|about) " + WHO + r": ?(?P<note>.+)", "note"),
    (r"(?:añadir |añade |agrega |agregar )?(?:una )?nota (?:sobre|para|de|a) " + A + WHO + r": ?(?P<note>.+)",
     "note"),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE | re.DOTALL), name) for pattern, name in _RULES]

_UNDO = re.compile(r"(?:undo|undo (?:that|it|the last (?:change|plan))|revert (?:that|it)|deshacer|deshaz(?: eso)?"
                   r"|deshacer (?:eso|lo último))", re.IGNORECASE)
# CRM-looking asks the deterministic path cannot do (yet): answered with a clear "I can't do that yet".
_UNSUPPORTED = [
    (re.compile(r"(?:delete|erase|borrar|borra|eliminar|elimina) (?:contact |the contact |al? |el contacto )?"
                r"(?:@[\w.]+|[^\W\d_][\w.'’ -]*)", re.IGNORECASE),
     "Deleting a contact is not something I can do from the chat."),
    (re.compile(r"(?:link|merge|unir|une|vincular|vincula) .+ (?:with|and|to|con|y) .+", re.IGNORECASE),
     "Linking contacts as one person is not something I can do from the chat yet."),
    (re.compile(r"(?:pause|resume|stop|restart|pausar|pausa|reanudar|reanuda) (?:the )?(?:automation|automatización|"
                r"automatizacion|auto-?replies|respuestas automáticas)\b.*", re.IGNORECASE),
     "Pausing or resuming automation from the chat is not available yet; use the conversation's controls."),
]


def _normal(text: str) -> str:
    text = " ".join((text or "").split())
    return text.rstrip(".!?¡¿ ").lstrip("¡¿ ")


def crm_parse(text: str) -> Parsed | None:
    """What the user asked, or None when this is not a CRM command (the normal answer path takes it)."""
    text = _normal(text)
    if not text or len(text) > 600:
        return None
    for prefix in ("please ", "por favor ", "sidekick, ", "hey sidekick, "):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    if _UNDO.fullmatch(text):
        return Parsed(UNDO)
    for pattern, name in _COMPILED:
        match = pattern.fullmatch(text)
        if not match:
            continue
        target = _target(match.group("who"))
        if target is None:
            continue
        if name == "stage":
            value = STAGES.get(match.group("stage").lower())
            if value is None:
                if not re.search(r"\b(?:stage|etapa)\b", text, re.IGNORECASE):
                    continue  # "move the call to Tuesday" is not about a stage: the normal answer takes it
                return Parsed(UNSUPPORTED, target, reason=f"“{match.group('stage')}” is not a stage; the stages are "
                                                          f"{', '.join(sorted(set(STAGES.values())))}.")
        elif name == "sentiment":
            value = SENTIMENTS.get(match.group("sent").lower())
            if value is None:
                return Parsed(UNSUPPORTED, target, reason=f"“{match.group('sent')}” is not a sentiment; say positive, "
                                                          "neutral, negative or unknown.")
        elif name == "lead_score":
            value = _score(match.group("num"))
        else:
            value = " ".join(match.group("note").split())
            if not value:
                continue
        return Parsed(UPDATE, target, ((name, value),))
    for pattern, reason in _UNSUPPORTED:
        if pattern.fullmatch(text):
            return Parsed(UNSUPPORTED, reason=reason)
    return None
