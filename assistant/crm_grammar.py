"""AutoCRM's deterministic grammar: the signed-in user's chat text → CRM operations, without a model.

Pure functions, no database: `crm_parse` returns what was asked (an update with its target and
operations, a bulk update, an undo or redo, or a CRM ask that cannot be done yet) or None when the text
is not a CRM command, in which case the normal assistant answer handles it. Only the user's own chat
text is ever given to it: never a DM, a contact's name or lead memory (a contact called "set @x score 0"
is data, not a command). The target stays a reference (a name, an @handle, or the page's contact for
"her", "this contact"); resolving it against the workspace is `assistant.crm`'s job, and so is turning
a time phrase ("Tuesday 3pm") into a datetime (`when_parse`, given the workspace's "now").

English and Spanish for the main verbs. Several clauses in one message ("Sarah booked for Tuesday 3pm,
she prefers mornings, score 80") are one plan for one contact. Small typos in the command words
("mvoe", "bookd", "scroe") are corrected against a fixed vocabulary before matching; names never are.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

UPDATE, BULK, UNDO, REDO, UNSUPPORTED = "update", "bulk", "undo", "redo", "unsupported"
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
MEMORY_KINDS = {"fact": "fact", "preference": "preference", "availability": "availability",
                "objection": "objection", "note": "fact", "memory": None,
                "dato": "fact", "preferencia": "preference", "disponibilidad": "availability",
                "objeción": "objection", "objecion": "objection", "nota": "fact"}
PRONOUNS = {"her", "him", "them", "she", "he", "they", "this contact", "this lead", "this person", "ella",
            "él", "el", "ellos", "este contacto", "este lead", "esta persona"}
# Spanish verbs with the pronoun attached ("muévela a booked"): the page's contact.
CLITICS = r"(?P<who>mu[eé]vela|mu[eé]velo|p[aá]sala|p[aá]salo|ponla|ponlo)"

# Command words a typo is corrected to (never names: only lowercase words outside a quoted note).
VOCABULARY = sorted({
    "move", "set", "change", "update", "mark", "stage", "score", "lead", "sentiment", "note", "booked", "book",
    "canceled", "cancelled", "cancel", "attended", "undo", "redo", "pause", "resume", "automation", "assign",
    "link", "merge", "prefers", "available", "follow", "qualified", "engaged", "customer", "ghosted",
    "positive", "negative", "neutral", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "remove", "forget", "preference", "objection", "availability",
    "mueve", "agendado", "cliente", "calificado", "perdido", "puntuación", "etapa", "nota", "sentimiento",
    "deshacer", "pausa", "reanuda", "asigna", "prefiere", "mañana", "seguimiento",
})
_PROTECTED = {"new", "set", "lost", "the", "for", "and", "her", "him", "she", "this", "that", "from", "with",
              "all", "who", "about", "price", "nota", "mark", "made"}


@dataclass(frozen=True)
class Target:
    kind: str  # NAME, HANDLE or CONTEXT
    value: str = ""


@dataclass(frozen=True)
class Parsed:
    intent: str
    target: Target | None = None
    # (field, value), in the order asked: ("stage", "booked"), ("sentiment", "negative"), ("lead_score", 80),
    # ("note", text), ("memory_add", {"kind", "text"}), ("memory_edit", {"match", "text"}),
    # ("memory_remove", {"match"}), ("booking", {"kind", "when"}), ("follow_up", {"when", "note"}),
    # ("automation", "pause" | "resume"), ("assign", member reference), ("link", {"kind", "value"}).
    operations: tuple = field(default_factory=tuple)
    reason: str = ""  # for UNSUPPORTED: what cannot be done yet
    # BULK: which contacts ({"period": "yesterday"|"today"|"week"|"", "topic": text, "stage": ""}).
    selection: dict | None = None
    step: int | None = None  # UNDO of one step (1-based)
    overwrite: bool = False  # UNDO even though the record changed since

    def entities(self) -> dict:
        return {"target": {"kind": self.target.kind, "value": self.target.value} if self.target else None,
                "operations": [list(op) for op in self.operations],
                **({"selection": self.selection} if self.selection else {}),
                **({"step": self.step} if self.step else {})}


# A "name" starting with one of these is a sentence the lazy name pattern swallowed ("mark Sarah as").
_NOT_NAMES = {"the", "a", "an", "all", "every", "todos", "todas", "el", "la", "mark", "move", "set", "change",
              "update", "put", "give", "add", "book", "cancel", "remove", "delete", "forget", "follow", "assign",
              "link", "merge", "pause", "resume", "stop", "note", "mueve", "pon", "pasa", "marca"}


def _target(raw: str, previous: Target | None = None) -> Target | None:
    """A name, an @handle or a pronoun; None when it cannot be a contact reference. A pronoun after an
    earlier clause means that clause's contact ("Sarah booked …, she prefers mornings")."""
    raw = raw.strip().strip("\"'“”").strip()
    raw = re.sub(r"[’']s$", "", raw).strip()
    lowered = raw.lower()
    if lowered in PRONOUNS or re.fullmatch(CLITICS, lowered):
        return previous or Target(CONTEXT)
    if re.fullmatch(r"@[\w.]{1,100}", raw):
        return Target(HANDLE, raw[1:])
    # A name: one to four words of letters (with . - '), nothing that looks like a sentence.
    if re.fullmatch(r"[^\W\d_][\w.'’-]*(?: [^\W\d_][\w.'’-]*){0,3}", raw) and len(raw) <= 100:
        if lowered.split()[0] in _NOT_NAMES:
            return None
        return Target(NAME, raw)
    return None


def _score(raw: str) -> int | None:
    return int(raw) if re.fullmatch(r"-?\d{1,4}", raw) else None


WHO = r"(?P<who>@[\w.]+|[^\W\d_][\w.'’ -]*?)"
STAGE = r"(?P<stage>[^\W\d_]+)"
SENT = r"(?P<sent>[^\W\d_]+)"
NUM = r"(?P<num>-?\d{1,4})"
A = r"(?:a |al )?"  # Spanish personal "a"
TEXT = r"(?P<text>.+)"
WHEN = r"(?P<when>[\w:./ -]+?)"
MEMKIND = r"(?P<mkind>memory|fact|preference|availability|objection|note|dato|preferencia|disponibilidad|objeci[oó]n|nota)"
AUTOMATION = r"(?:the )?(?:automation|auto-?replies|ai|sidekick|bot|autopilot)"
AUTOMATION_ES = r"(?:la |el )?(?:automatizaci[oó]n|ia|bot|piloto autom[aá]tico)"

# (pattern, field). Tried in order; the first whose target and value are valid wins. A pattern without
# {WHO} is a clause about the page's contact, or about the contact of an earlier clause.
_RULES: list[tuple[str, str]] = [
    # stage
    (rf"(?:move|put) {WHO} (?:to|in|into) (?:the )?{STAGE}(?: stage)?", "stage"),
    (rf"(?:set|change|update) {WHO}(?:[’']s)? stage (?:to |as |= )?{STAGE}", "stage"),
    (rf"(?:set|change|update) (?:the )?stage (?:of|for) {WHO} (?:to |as )?{STAGE}", "stage"),
    (rf"mark {WHO} (?:as )?{STAGE}", "stage"),
    (rf"{WHO}(?:[’']s)? stage (?:is |to |= )?{STAGE}", "stage"),
    (rf"(?:stage|etapa):? {STAGE}", "stage"),
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
    (rf"(?:lead )?score:? {NUM}", "lead_score"),
    (rf"(?:pon |poner |dale |dar )?(?:una )?puntuaci[oó]n (?:de )?{NUM} (?:para|a) {WHO}", "lead_score"),
    (rf"(?:pon |poner |cambia |cambiar )?(?:la )?puntuaci[oó]n de {WHO} (?:a |en |= )?{NUM}", "lead_score"),
    (rf"puntuaci[oó]n:? {NUM}", "lead_score"),
    # sentiment
    (rf"(?:set|change|update) {WHO}(?:[’']s)? sentiment (?:to |as |= )?{SENT}", "sentiment"),
    (rf"(?:set|change|update) (?:the )?sentiment (?:of|for) {WHO} (?:to |as )?{SENT}", "sentiment"),
    (rf"{WHO}(?:[’']s)? sentiment (?:is |to |= )?{SENT}", "sentiment"),
    (rf"sentiment:? {SENT}", "sentiment"),
    (rf"(?:pon |poner |cambia |cambiar )?(?:el )?sentimiento de {WHO} (?:a |en |= |es )?{SENT}", "sentiment"),
    # booking outcomes
    (rf"{WHO} (?:is |was |got |has )?booked (?:for|on|at|in) {WHEN}", "booked"),
    (rf"book {WHO} (?:for|on|at|in) {WHEN}", "booked"),
    (rf"booked (?:for|on|at|in) {WHEN}", "booked"),
    (rf"{WHO} (?:agend[oó]|reserv[oó]|tiene (?:una )?(?:cita|llamada)) (?:para |el |a las )?{WHEN}", "booked"),
    (rf"agenda(?:r)? {A}{WHO} (?:para |el |a las ){WHEN}", "booked"),
    (rf"{WHO} (?:canceled|cancelled)(?: (?:the |her |his |their )?(?:call|booking|meeting|appointment))?",
     "canceled"),
    (rf"cancel {WHO}(?:[’']s)? (?:call|booking|meeting|appointment)", "canceled"),
    (r"(?:she |he |they )?(?:canceled|cancelled)(?: the (?:call|booking|meeting))?", "canceled"),
    (rf"{WHO} cancel[oó](?: la (?:cita|llamada|reserva))?", "canceled"),
    (rf"{WHO} (?:attended|showed up|showed|came)(?: (?:the |her |his |their )?(?:call|meeting))?", "attended"),
    (rf"mark {WHO} (?:as )?attended", "attended"),
    (rf"{WHO} asisti[oó](?: a la (?:cita|llamada))?", "attended"),
    (rf"{WHO} (?:was a |is a )?no[- ]?show", "no_show"),
    (rf"mark {WHO} (?:as )?(?:a )?no[- ]?show", "no_show"),
    (rf"{WHO} (?:didn[’']?t|did not) (?:show(?: up)?|come|attend)", "no_show"),
    (rf"{WHO} no (?:se present[oó]|vino|asisti[oó])", "no_show"),
    # lead memory
    (rf"{WHO} prefers {TEXT}", "preference"),
    (rf"{WHO} prefiere {TEXT}", "preference"),
    (rf"{WHO} (?:is (?:only )?(?:available|free)|can (?:only )?(?:talk|meet|do)) {TEXT}", "availability"),
    (rf"{WHO} (?:est[aá] )?disponible {TEXT}", "availability"),
    (rf"{WHO} (?:objects|objected|is worried|worries|complains|complained|thinks it'?s) (?:to |that |about )?{TEXT}",
     "objection"),
    (rf"(?:remember|add (?:a |an )?{MEMKIND}) (?:for|about|on|to) {WHO}: ?{TEXT}", "memory_add"),
    (rf"(?:recuerda|añade (?:una? )?{MEMKIND}) (?:de|sobre|para|a) {A}{WHO}: ?{TEXT}", "memory_add"),
    (rf"(?:change|edit|update|correct) {WHO}(?:[’']s)? {MEMKIND} (?:about |on )?[“\"]?(?P<match>.+?)[”\"]? to {TEXT}",
     "memory_edit"),
    (rf"(?:cambia|edita|corrige) (?:la |el )?{MEMKIND} (?:de|sobre) {A}{WHO} (?:sobre )?[“\"]?(?P<match>.+?)[”\"]? "
     rf"(?:a|por) {TEXT}", "memory_edit"),
    (rf"(?:remove|delete|forget) {WHO}(?:[’']s)? {MEMKIND} (?:about |on |that )?[“\"]?(?P<match>.+?)[”\"]?", "memory_remove"),
    (rf"(?:borra|elimina|olvida) (?:la |el )?{MEMKIND} (?:de|sobre) {A}{WHO} (?:sobre |que )?[“\"]?(?P<match>.+?)[”\"]?",
     "memory_remove"),
    # follow-up due date with a note
    (rf"follow[- ]?up (?:with |on )?{WHO} (?:on |by |in |next |this )?{WHEN}(?:(?::| -| about| to| re:?) (?P<note>.+))?",
     "follow_up"),
    (rf"remind me to follow[- ]?up (?:with |on )?{WHO} (?:on |by |in |next |this )?{WHEN}(?:(?::| -| about| to) (?P<note>.+))?",
     "follow_up"),
    (rf"follow[- ]?up (?:on |by |in |next |this )?{WHEN}(?:(?::| -| about| to) (?P<note>.+))?", "follow_up"),
    (rf"(?:haz |hacer )?(?:un )?seguimiento (?:a|con) {WHO} (?:el |en |para el |para )?{WHEN}(?:(?::| -| sobre) (?P<note>.+))?",
     "follow_up"),
    # automation on the thread
    (rf"(?:pause|stop|turn off|disable) {AUTOMATION} (?:for|on|with) {WHO}", "pause"),
    (rf"(?:pause|stop|turn off|disable) {WHO}(?:[’']s)? (?:automation|auto-?replies|ai|bot)", "pause"),
    (rf"(?:pause|stop|turn off|disable) {AUTOMATION}", "pause"),
    (rf"(?:resume|restart|unpause|turn on|enable) {AUTOMATION} (?:for|on|with) {WHO}", "resume"),
    (rf"(?:resume|restart|unpause|turn on|enable) {WHO}(?:[’']s)? (?:automation|auto-?replies|ai|bot)", "resume"),
    (rf"(?:resume|restart|unpause|turn on|enable) {AUTOMATION}", "resume"),
    (rf"(?:pausa|pausar|det[eé]n|detener|apaga) {AUTOMATION_ES} (?:de|para|con) {A}{WHO}", "pause"),
    (rf"(?:pausa|pausar|det[eé]n|detener|apaga) {AUTOMATION_ES}", "pause"),
    (rf"(?:reanuda|reanudar|activa|enciende) {AUTOMATION_ES} (?:de|para|con) {A}{WHO}", "resume"),
    (rf"(?:reanuda|reanudar|activa|enciende) {AUTOMATION_ES}", "resume"),
    # assignment
    (rf"assign {WHO} to (?P<member>me|myself|[\w.@+-]+(?: [\w.-]+)?)", "assign"),
    (rf"(?:give|hand) {WHO} to (?P<member>me|myself|[\w.@+-]+(?: [\w.-]+)?)", "assign"),
    (rf"asigna(?:r)? {A}{WHO} a (?P<member>m[ií]|[\w.@+-]+(?: [\w.-]+)?)", "assign"),
    # link two contacts as one person (admins; checked by the change kind)
    (rf"(?:link|merge|connect) {WHO} (?:with|and|to) (?P<other>@[\w.]+|[^\W\d_][\w.'’ -]*?)(?: as (?:one|the same) person)?",
     "link"),
    (rf"(?:vincula|vincular|une|unir|junta) {A}{WHO} (?:con|y) {A}(?P<other>@[\w.]+|[^\W\d_][\w.'’ -]*?)"
     r"(?: como (?:una|la misma) persona)?", "link"),
    # a note on the contact (kept as a lead memory fact)
    (r"(?:add (?:a )?)?note (?:on|for|to|about) " + WHO + r": ?(?P<note>.+)", "note"),
    (r"(?:añadir |añade |agrega |agregar )?(?:una )?nota (?:sobre|para|de|a) " + A + WHO + r": ?(?P<note>.+)",
     "note"),
    (r"(?:add (?:a )?)?note: ?(?P<note>.+)", "note"),
    (r"(?:añade (?:una )?)?nota: ?(?P<note>.+)", "note"),
]
_COMPILED = [(re.compile(pattern, re.IGNORECASE | re.DOTALL), name) for pattern, name in _RULES]
# Every word the rules spell out is a word already (Spanish "mover" is not a typo of "move").
_KNOWN = set(re.findall(r"[a-záéíóúñ]{3,}", " ".join(pattern.lower() for pattern, _ in _RULES)))
# Clauses whose pattern has no contact of its own take the page's (or the previous clause's) contact.
_CONTINUATION = [(re.compile(r"(?:she|he|they|ella|él) " + body, re.IGNORECASE), name) for body, name in (
    (r"prefers (?P<text>.+)", "preference"), (r"prefiere (?P<text>.+)", "preference"),
    (r"(?:is (?:only )?(?:available|free)|can (?:only )?(?:talk|meet|do)) (?P<text>.+)", "availability"),
    (r"(?:objects|is worried|worries) (?:to |that |about )?(?P<text>.+)", "objection"),
)]

_UNDO = re.compile(r"(?P<verb>undo|revert|deshacer|deshaz|redo|rehacer|rehaz)(?: (?:that|it|the last (?:change|plan)|eso|"
                   r"lo último))?(?: step (?P<step>\d{1,3})| paso (?P<paso>\d{1,3}))?(?P<force>,? (?:anyway|overwrite|"
                   r"and overwrite|de todos modos|sobrescribir))?", re.IGNORECASE)

# "all leads from yesterday who asked about price → qualified"
_BULK = re.compile(
    r"(?:move|set|mark|put|mueve|pasa|pon) (?:all|every|todos los|todas las|todos|todas) (?:the )?(?:leads?|contacts?|"
    r"contactos?|prospectos?)(?P<filters>.*?) (?:to|as|into|a|como|->|→) (?:the )?(?P<stage>[^\W\d_]+)(?: stage)?",
    re.IGNORECASE)
_PERIODS = {"yesterday": "yesterday", "ayer": "yesterday", "today": "today", "hoy": "today",
            "this week": "week", "esta semana": "week", "last week": "last_week", "la semana pasada": "last_week"}

# CRM-looking asks the deterministic path cannot do: answered with a clear "I can't do that yet".
_UNSUPPORTED = [
    (re.compile(r"(?:delete|erase|borrar|borra|eliminar|elimina) (?:contact |the contact |al? |el contacto )?"
                r"(?:@[\w.]+|[^\W\d_][\w.'’ -]*)", re.IGNORECASE),
     "Deleting a contact is not something I can do from the chat."),
    (re.compile(r"(?:send|email|text|message|call|envía|envia|llama) .+", re.IGNORECASE),
     "Sending messages or calling is not something AutoCRM does; it only updates the CRM."),
    (re.compile(r"(?:export|import|exporta|importa) .+", re.IGNORECASE),
     "Exports and imports are not something I can do from the chat."),
    (re.compile(r"(?:rename|renombra) .+", re.IGNORECASE),
     "Renaming a contact is not something I can do from the chat; the name comes from the channel."),
    (re.compile(r"(?:unlink|split|desvincula) .+", re.IGNORECASE),
     "Unlinking contacts is done on the contact's page."),
]
_SPLIT = re.compile(r"\s*(?:;|,|\.\s| and then | then | and also | and | y luego | luego | y también | y )\s*",
                    re.IGNORECASE)


def _normal(text: str) -> str:
    text = " ".join((text or "").split())
    return text.rstrip(".!?¡¿ ").lstrip("¡¿ ")


def _fix_typos(text: str) -> str:
    """Correct misspelled command words (never a name, a handle, a number or what follows a colon)."""
    head, colon, tail = text.partition(":")

    def fix(match):
        word = match.group(0)
        lowered = word.lower()
        if (word[0].isupper() and lowered not in VOCABULARY) or len(word) < 4 or lowered in VOCABULARY \
                or lowered in _PROTECTED or lowered in _KNOWN or lowered in STAGES or lowered in SENTIMENTS:
            return word
        close = difflib.get_close_matches(lowered, VOCABULARY, n=1, cutoff=0.75)
        return close[0] if close else word

    return re.sub(r"(?<![@\w])[^\W\d_]+", fix, head) + colon + tail


@dataclass(frozen=True)
class _Refusal:
    target: Target | None
    reason: str


def _match_clause(clause: str, previous: Target | None) -> tuple[Target | None, tuple] | _Refusal | None:
    """(target, operation) for one clause; a _Refusal when the clause is a CRM ask with a wrong value;
    None when it is not understood. The target is None when the clause names no contact."""
    for pattern, name in _CONTINUATION:
        match = pattern.fullmatch(clause)
        if match:
            return previous or Target(CONTEXT), _operation(name, match)
    for pattern, name in _COMPILED:
        match = pattern.fullmatch(clause)
        if not match:
            continue
        target = None
        if "who" in pattern.groupindex:
            target = _target(match.group("who"), previous)
            if target is None:
                continue
        operation = _operation(name, match)
        if operation is None:
            continue
        if isinstance(operation, str):
            if name == "stage" and not re.search(r"\b(?:stage|etapa)\b", clause, re.IGNORECASE):
                continue  # "move the call to Tuesday" is not about a stage: the normal answer takes it
            return _Refusal(target, operation)
        if name == "link":
            other = _target(match.group("other"))
            if other is None or other.kind == CONTEXT:
                continue
            operation = ("link", {"kind": other.kind, "value": other.value})
        return target, operation
    return None


def _operation(name: str, match) -> tuple | str | None:
    groups = match.groupdict()
    if name == "stage":
        value = STAGES.get(groups["stage"].lower())
        if value is None:
            return (f"“{groups['stage']}” is not a stage; the stages are "
                    f"{', '.join(sorted(set(STAGES.values())))}.")
        return ("stage", value)
    if name == "sentiment":
        value = SENTIMENTS.get(groups["sent"].lower())
        if value is None:
            return f"“{groups['sent']}” is not a sentiment; say positive, neutral, negative or unknown."
        return ("sentiment", value)
    if name == "lead_score":
        return ("lead_score", _score(groups["num"]))
    if name in ("booked", "canceled", "attended", "no_show"):
        return ("booking", {"kind": name, "when": (groups.get("when") or "").strip()})
    if name in ("preference", "availability", "objection"):
        text = " ".join(groups["text"].split())
        prefix = {"preference": "prefers", "availability": "available", "objection": "objection:"}[name]
        if name == "preference" and "prefiere" in match.group(0).lower():
            prefix = "prefiere"
        return ("memory_add", {"kind": name, "text": f"{prefix} {text}"})
    if name == "memory_add" and (groups.get("mkind") or "").lower() in ("note", "nota"):
        return ("note", " ".join(groups["text"].split()))
    if name == "memory_add":
        kind = MEMORY_KINDS.get((groups.get("mkind") or "fact").lower()) or "fact"
        return ("memory_add", {"kind": kind, "text": " ".join(groups["text"].split())})
    if name == "memory_edit":
        return ("memory_edit", {"match": groups["match"].strip(), "text": " ".join(groups["text"].split())})
    if name == "memory_remove":
        return ("memory_remove", {"match": groups["match"].strip()})
    if name == "follow_up":
        return ("follow_up", {"when": groups["when"].strip(), "note": " ".join((groups.get("note") or "").split())})
    if name in ("pause", "resume"):
        return ("automation", name)
    if name == "assign":
        return ("assign", groups["member"].strip())
    if name == "link":
        return ("link", None)  # completed by the caller, which parses the other contact
    note = " ".join(groups["note"].split())
    return ("note", note) if note else None


def _several(text: str) -> Parsed | None:
    """Several clauses: one contact, several operations; None unless every clause is understood (or a
    clause is a CRM ask with a wrong value). A note takes the rest of the text (its own commas and
    "and"s are part of it)."""
    head, note = text, ""
    note_at = re.search(r"(?:,|;| and | y )\s*(?:add (?:a )?|añade (?:una )?)?(?:note|nota):", text, re.IGNORECASE)
    if note_at:
        head, note = text[:note_at.start()], text[note_at.end():].strip()
    clauses = [c for c in _SPLIT.split(head) if c]
    if note:
        clauses.append("note: " + note)
    if len(clauses) < 2:
        return None
    target, operations = None, []
    for clause in clauses:
        found = _match_clause(clause, target)
        if found is None:
            return None
        if isinstance(found, _Refusal):
            return Parsed(UNSUPPORTED, found.target or target, reason=found.reason)
        clause_target, operation = found
        if clause_target is not None:
            if target is not None and clause_target != target and clause_target.kind != CONTEXT:
                return Parsed(UNSUPPORTED, target, reason="One plan changes one contact; ask about each contact "
                                                          "separately.")
            target = target or clause_target
        operations.append(operation)
    return Parsed(UPDATE, target or Target(CONTEXT), tuple(operations))


def _parse_clauses(text: str) -> Parsed | None:
    several = _several(text)
    if several is not None:
        return several
    whole = _match_clause(text, None)
    if isinstance(whole, _Refusal):
        return Parsed(UNSUPPORTED, whole.target, reason=whole.reason)
    if whole is None:
        return None
    target, operation = whole
    return Parsed(UPDATE, target or Target(CONTEXT), (operation,))


def _bulk(text: str) -> Parsed | None:
    match = _BULK.fullmatch(text)
    if not match:
        return None
    filters = match.group("filters").strip()
    selection = {"period": "", "topic": "", "stage": ""}
    for phrase, period in _PERIODS.items():
        if re.search(rf"\b(?:from |de |since )?{phrase}\b", filters, re.I):
            selection["period"] = period
            filters = re.sub(rf"\b(?:from |de |since )?{phrase}\b", "", filters, flags=re.I)
    topic = re.search(r"(?:who|that|que) (?:asked|asks|wrote|mentioned|preguntaron|preguntó|mencionaron) "
                      r"(?:about |for |por |sobre )?(?:the )?(?P<topic>[\w' -]+)", filters, re.I)
    if topic:
        selection["topic"] = topic.group("topic").strip()[:60]
        filters = filters.replace(topic.group(0), "")
    in_stage = re.search(r"\b(?:in|en) (?:the )?(?P<stage>[^\W\d_]+)(?: stage)?\b", filters, re.I)
    if in_stage and STAGES.get(in_stage.group("stage").lower()):
        selection["stage"] = STAGES[in_stage.group("stage").lower()]
        filters = filters.replace(in_stage.group(0), "")
    if filters.strip(" ,"):
        return Parsed(UNSUPPORTED, reason=f"I can select leads by day, by what they asked about and by stage; "
                                          f"not by “{filters.strip(' ,')}”.")
    stage = STAGES.get(match.group("stage").lower())
    if stage is None:
        return Parsed(UNSUPPORTED, reason=f"“{match.group('stage')}” is not a stage; the stages are "
                                          f"{', '.join(sorted(set(STAGES.values())))}.")
    if not (selection["period"] or selection["topic"] or selection["stage"]):
        return Parsed(UNSUPPORTED, reason="Say which leads (from yesterday, who asked about something, in a stage); "
                                          "I don't change every contact at once.")
    return Parsed(BULK, operations=(("stage", stage),), selection=selection)


def crm_parse(text: str) -> Parsed | None:
    """What the user asked, or None when this is not a CRM command (the normal answer path takes it)."""
    text = _normal(text)
    if not text or len(text) > 600:
        return None
    for prefix in ("please ", "por favor ", "sidekick, ", "hey sidekick, "):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    parsed = _parse(text)
    if parsed is None or parsed.intent == UNSUPPORTED:
        # Only then are command words corrected: an exact command (and its note's own words) stays as typed.
        fixed = _fix_typos(text)
        if fixed != text:
            retry = _parse(fixed)
            if retry is not None and (parsed is None or retry.intent != UNSUPPORTED):
                return retry
    return parsed


def _parse(text: str) -> Parsed | None:
    undo = _UNDO.fullmatch(text)
    if undo:
        step = undo.group("step") or undo.group("paso")
        intent = REDO if undo.group("verb").lower().startswith(("redo", "reh")) else UNDO
        return Parsed(intent, step=int(step) if step else None, overwrite=bool(undo.group("force")))
    bulk = _bulk(text)
    if bulk is not None:
        return bulk
    parsed = _parse_clauses(text)
    if parsed is not None:
        return parsed
    for pattern, reason in _UNSUPPORTED:
        if pattern.fullmatch(text):
            return Parsed(UNSUPPORTED, reason=reason)
    return None


# --- time phrases ------------------------------------------------------------------------------------

WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
            "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
            "lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4, "sábado": 5,
            "sabado": 5, "domingo": 6}
_UNITS = {"hour": 1 / 24, "hours": 1 / 24, "day": 1, "days": 1, "week": 7, "weeks": 7, "hora": 1 / 24,
          "horas": 1 / 24, "día": 1, "días": 1, "dia": 1, "dias": 1, "semana": 7, "semanas": 7}
_TIME = re.compile(r"(?:at |a las |a la |@ ?)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))? ?(?P<ap>am|pm|a\.m\.|p\.m\.|h)?",
                   re.IGNORECASE)
DEFAULT_HOUR = 9  # a day without a time of day: 9:00 in the workspace's time zone, shown in the preview


def when_parse(phrase: str, *, now: datetime) -> datetime:
    """A time phrase ("Tuesday 3pm", "tomorrow at 10", "in 3 days", "2026-12-01 15:30", "el viernes a las 5")
    → an aware datetime in `now`'s time zone. Raises ValueError naming the phrase when it is not one."""
    original = phrase
    phrase = " ".join(phrase.lower().replace(",", " ").split())
    phrase = re.sub(r"^(?:on|by|at|this|next|el|la|para el|para|en|este|el próximo|el proximo) ", "", phrase)
    phrase = re.sub(r"^(?:next|this|próximo|proximo) ", "", phrase)
    day = None
    rest = phrase
    relative = re.fullmatch(r"(?:in|en) (?P<n>\d{1,3}) (?P<unit>\w+)", phrase) or re.fullmatch(
        r"(?P<n>\d{1,3}) (?P<unit>\w+)", phrase)
    if relative and relative.group("unit") in _UNITS:
        return now + timedelta(days=int(relative.group("n")) * _UNITS[relative.group("unit")])
    iso = re.match(r"(?P<d>\d{4}-\d{2}-\d{2})(?:[ t](?P<rest>.*))?$", phrase)
    if iso:
        try:
            day = datetime.fromisoformat(iso.group("d")).date()
        except ValueError:
            raise ValueError(f"“{original}” is not a date I understand.") from None
        rest = iso.group("rest") or ""
    else:
        first, _, tail = phrase.partition(" ")
        if first in ("today", "hoy", "tonight"):
            day, rest = now.date(), tail if first != "tonight" else (tail or "8pm")
        elif first in ("tomorrow", "mañana", "manana"):
            day, rest = now.date() + timedelta(days=1), tail
        elif phrase.startswith("pasado mañana"):
            day, rest = now.date() + timedelta(days=2), phrase[len("pasado mañana"):]
        elif first in WEEKDAYS:
            ahead = (WEEKDAYS[first] - now.weekday()) % 7 or 7
            day, rest = now.date() + timedelta(days=ahead), tail
        elif _TIME.fullmatch(re.sub(r"^(?:at|a las) ", "", phrase)):
            day, rest = now.date(), phrase
        else:
            raise ValueError(f"“{original}” is not a time I understand; say a day and a time (“Tuesday 3pm”).")
    rest = re.sub(r"^(?:at|a las|a la|in the|por la) ", "", rest.strip())
    hour, minute = DEFAULT_HOUR, 0
    if rest in ("morning", "mañana", "la mañana"):
        hour = 9
    elif rest in ("afternoon", "tarde", "la tarde"):
        hour = 15
    elif rest in ("evening", "noche", "la noche"):
        hour = 19
    elif rest:
        time_match = _TIME.fullmatch(rest)
        if not time_match:
            raise ValueError(f"“{original}” is not a time I understand; say a day and a time (“Tuesday 3pm”).")
        hour, minute = int(time_match.group("h")), int(time_match.group("m") or 0)
        suffix = (time_match.group("ap") or "").replace(".", "").lower()
        if suffix == "pm" and hour < 12:
            hour += 12
        elif suffix == "am" and hour == 12:
            hour = 0
        elif not suffix and 1 <= hour <= 7:
            hour += 12  # "at 3" for a call is the afternoon
        if hour > 23 or minute > 59:
            raise ValueError(f"“{original}” is not a time of day.")
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=now.tzinfo)
