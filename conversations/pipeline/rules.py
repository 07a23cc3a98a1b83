"""The overseer's hard rules: checks no model output can override.

Each check returns ``RuleHit`` objects. A blocking hit forbids automatic sending whatever the
confidence; a non-blocking hit lowers confidence by its penalty. The patterns work on folded text
(case- and accent-insensitive, punctuation as spaces), in English and the common languages of
Sidekick's users (es, fr, de, pt, it); the workspace language decides which set joins English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.pipeline.text import words, words_deobfuscated

MESSAGING_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RuleHit:
    rule: str
    reason: str
    blocking: bool = True
    penalty: float = 0.0

    def as_dict(self) -> dict:
        return {"rule": self.rule, "reason": self.reason, "blocking": self.blocking, "penalty": self.penalty}


def _compile(patterns: list[str]) -> re.Pattern:
    # Patterns are written against words(): single spaces, padded with a space at both ends.
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# --- Opt-out -------------------------------------------------------------------------------------
# A keyword counts only when it (plus at most two filler words) is the whole message: "STOP!!",
# "stop please" opt out, "I can't stop smiling" does not. "cancel" is left out on purpose: in a
# booking conversation it means the appointment far more often than the messages.
_OPT_OUT_KEYWORDS = {
    "en": {"stop", "stopall", "unsubscribe", "optout"},
    "es": {"baja", "parar"},
    "fr": {"stop", "arret", "arreter", "desabonner"},
    "de": {"stopp", "stop", "abmelden"},
    "pt": {"parar", "pare", "sair"},
    "it": {"stop", "basta", "disiscrivimi"},
}
_FILLERS = {"please", "pls", "plz", "now", "it", "me", "thanks", "thank", "you", "all", "messages", "por", "favor",
            "svp", "bitte", "jetzt", "per", "grazie", "obrigado", "obrigada", "merci", "gracias", "ya"}
_OPT_OUT_PHRASES = {
    "en": [r" unsubscribe ", r" opt me out ", r" opt out ", r" stop (?:messaging|texting|contacting|writing|sending|spamming|dming|dm ing)",
           r" (?:don t|do not|dont|never) (?:message|text|contact|dm|write to) me", r" remove me from",
           r" leave me alone ", r" no more messages "],
    "es": [r" no me (?:escribas|escriban|contactes|contacten|mandes|envies) mas", r" dejen? de (?:escribirme|enviarme|contactarme)",
           r" darme de baja ", r" no quiero (?:recibir )?mas mensajes"],
    "fr": [r" (?:arretez|arrete) de m (?:ecrire|envoyer|contacter)", r" ne (?:me )?contactez plus", r" desabonnez moi",
           r" je ne veux plus (?:de|recevoir)"],
    "de": [r" (?:schreib|schreiben sie|kontaktier|kontaktieren sie) mir nicht mehr", r" melden sie mich ab",
           r" keine nachrichten mehr"],
    "pt": [r" (?:pare|parem) de (?:me )?(?:mandar|enviar|escrever)", r" nao (?:me )?(?:mande|envie|escreva) mais",
           r" quero sair da lista"],
    "it": [r" smetti(?:la)? di scrivermi", r" non (?:scrivermi|contattarmi) piu", r" cancellami"],
}

# --- A human is asked for --------------------------------------------------------------------------
_HUMAN = {
    "en": [
        r" (?:talk|speak|chat) (?:to|with) (?:a |an |the |your |some )?(?:real |actual |live )?(?:human|person|people|agent|rep|representative|manager|owner|staff|someone|somebody|team member|operator)",
        r" (?:real|actual|live) (?:human|person|agent) ", r" human (?:please|pls|plz) ", r" (?:get|want|need) (?:a |an )?(?:human|person|agent|representative)",
        r" are you (?:a |an )?(?:bot|robot|ai|machine|real person|human) ", r" is this (?:a |an )?(?:bot|robot|ai|automated|real person|human)",
        r" (?:customer )?(?:service|support) agent ", r" call me ", r" (?:can|could) (?:someone|somebody|you) call ",
        r" transfer me ", r" escalate ", r" your (?:manager|boss|supervisor) ", r" not (?:a |another )?(?:bot|robot|ai) ",
        r" stop (?:the|this) bot ", r" operator ",
    ],
    "es": [r" hablar con (?:una |un |alguien|el |la )?(?:persona|humano|agente|asesor|encargado|gerente|alguien)",
           r" (?:eres|es) (?:un )?(?:bot|robot) ", r" persona real ", r" llamame ", r" quiero hablar con alguien"],
    "fr": [r" parler (?:a|avec) (?:un |une |quelqu un|le |la )?(?:humain|personne|conseiller|conseillere|agent|responsable|quelqu un)",
           r" (?:etes vous|es tu|c est) (?:un )?(?:bot|robot) ", r" vraie personne ", r" appelez moi "],
    "de": [r" mit (?:einem |einer )?(?:menschen|mensch|person|mitarbeiter|berater|agenten) sprechen",
           r" (?:bist du|sind sie) (?:ein )?(?:bot|roboter) ", r" echte person ", r" rufen sie mich an "],
    "pt": [r" falar com (?:um |uma |alguem|o |a )?(?:pessoa|humano|atendente|agente|alguem|gerente)",
           r" (?:voce e|e) (?:um )?(?:bot|robo) ", r" pessoa real ", r" me liga "],
    "it": [r" parlare con (?:un |una |qualcuno|il |la )?(?:persona|umano|operatore|agente|qualcuno)",
           r" (?:sei|e) (?:un )?(?:bot|robot) ", r" persona vera ", r" chiamami "],
}

# --- Prompt injection -----------------------------------------------------------------------------
_INJECTION = _compile([
    r" ignore (?:all |any |the |your |my )?(?:previous |prior |above |earlier |preceding )?(?:instructions|rules|prompts?|directions|messages)",
    r" disregard (?:all |any |the |your )?(?:previous |prior |above )?(?:instructions|rules|prompt)",
    r" forget (?:all |your |the )?(?:previous |prior )?(?:instructions|rules|prompt)",
    r" (?:print|show|reveal|repeat|output|display|tell me|give me|share|leak|what is|what s) (?:me )?(?:your |the |all )?(?:system |initial |hidden |original |secret )?(?:prompt|instructions|rules|configuration)",
    r" system prompt ", r" developer mode ", r" jailbreak", r" dan mode ", r" you are now ", r" act as (?:an? )?(?:unrestricted|different)",
    r" pretend (?:to be|you are) ", r" new instructions ", r" override ", r" repeat (?:the |everything )?(?:text|words) above",
    r" ignora (?:las |todas las )?instrucciones", r" ignore[sz]? (?:les |toutes les )?instructions", r" ignoriere (?:alle |die )?anweisungen",
])

# --- Spam -----------------------------------------------------------------------------------------
_URL = re.compile(r"https?://|www\.", re.I)
_REPEAT = re.compile(r"(.)\1{15,}")
_SPAM_PHRASES = _compile([
    r" crypto (?:investment|opportunity|signals) ", r" guaranteed (?:profit|returns|income) ", r" click (?:the|this) link ",
    r" (?:earn|make) \d+ (?:dollars|usd|per day|a day|daily) ", r" free followers ", r" promote your (?:page|account|profile) ",
    r" collab(?:oration)? with (?:our|my) brand .* (?:dm|link) ", r" verify your account ", r" your account (?:will be|has been) (?:suspended|disabled)",
])


def _languages(language: str) -> list[str]:
    code = (language or "en").split("-")[0].lower()
    return ["en"] if code == "en" or code not in _HUMAN else ["en", code]


def is_opt_out(text: str, *, language: str = "en") -> bool:
    form = words(text)
    bare = form.strip()
    for code in _languages(language):
        tokens = bare.split()
        if 0 < len(tokens) <= 3 and tokens[0] in _OPT_OUT_KEYWORDS[code] and set(tokens[1:]) <= _FILLERS:
            return True
        if any(re.search(p, form) for p in _OPT_OUT_PHRASES.get(code, [])):
            return True
    return False


def wants_human(text: str, *, language: str = "en") -> bool:
    form = words(text)
    return any(re.search(p, form) for code in _languages(language) for p in _HUMAN[code])


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(words(text)))


def looks_like_spam(text: str) -> bool:
    raw = text or ""
    if len(_URL.findall(raw)) >= 3 or _REPEAT.search(raw):
        return True
    return bool(_SPAM_PHRASES.search(words(raw)))


def blacklisted_phrase(text: str, phrases: list[str]) -> str | None:
    """The first blacklisted phrase the text contains, as a whole word sequence, or None.

    Case-, accent- and punctuation-insensitive; also matches digit look-alikes ("b1tc0in").
    """
    if not phrases:
        return None
    plain, deobfuscated = words(text), words_deobfuscated(text)
    for phrase in phrases:
        needle = words(phrase)
        if needle.strip() and (needle in plain or needle in deobfuscated):
            return phrase
    return None


def leaks_system_prompt(reply: str, system_prompt: str, *, shingle: int = 8) -> bool:
    """True when the reply repeats any run of `shingle` consecutive words of the system prompt."""
    prompt_words = words(system_prompt).split()
    if len(prompt_words) < shingle:
        return bool(prompt_words) and words(system_prompt) in words(reply)
    reply_form = words(reply)
    return any(
        " " + " ".join(prompt_words[i:i + shingle]) + " " in reply_form
        for i in range(len(prompt_words) - shingle + 1)
    )


# --- Business hours -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday (0 = Monday) in the workspace's time zone, and what they mean.

    policy: ``always`` (hours do not matter), ``within`` (auto-send only during opening hours) or
    ``outside`` (auto-send only when the team is away; humans answer during the day).
    """

    policy: str = "always"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    opens: time = time(9, 0)
    closes: time = time(18, 0)

    def is_open(self, moment: datetime, tz: str) -> bool:
        local = moment.astimezone(ZoneInfo(tz))
        return local.weekday() in self.days and self.opens <= local.time() < self.closes


def check_inbound(text: str, *, language: str = "en", blacklist: list[str] | None = None) -> list[RuleHit]:
    """Rules on what the contact wrote."""
    hits = []
    if is_opt_out(text, language=language):
        hits.append(RuleHit("opt_out", "The contact asked not to be messaged."))
    if wants_human(text, language=language):
        hits.append(RuleHit("human_requested", "The contact asked for a human."))
    phrase = blacklisted_phrase(text, blacklist or [])
    if phrase:
        hits.append(RuleHit("blacklist", f"The message touches a blacklisted topic ({phrase!r})."))
    if looks_like_spam(text):
        hits.append(RuleHit("spam", "The message looks like spam."))
    if looks_like_injection(text):
        # Not blocking by itself (the model never sees secrets it could leak), but worth a human look.
        hits.append(RuleHit("prompt_injection", "The message tries to change the assistant's instructions.",
                            blocking=False, penalty=0.3))
    return hits


def check_draft(reply: str, *, system_prompt: str = "", blacklist: list[str] | None = None,
                max_chars: int = 2000) -> list[RuleHit]:
    """Rules on what Sidekick is about to send."""
    hits = []
    if not (reply or "").strip():
        hits.append(RuleHit("empty", "The draft is empty."))
    phrase = blacklisted_phrase(reply, blacklist or [])
    if phrase:
        hits.append(RuleHit("blacklist", f"The draft mentions a blacklisted topic ({phrase!r})."))
    if system_prompt and leaks_system_prompt(reply, system_prompt):
        hits.append(RuleHit("prompt_leak", "The draft repeats the system prompt."))
    if len(reply or "") > max_chars * 2:
        hits.append(RuleHit("length", f"The draft is far over the platform limit ({len(reply)} characters)."))
    return hits


def check_context(*, now: datetime, last_inbound_at: datetime | None, hours: BusinessHours, tz: str,
                  opted_out: bool = False) -> list[RuleHit]:
    """Rules on the moment and the contact's state."""
    hits = []
    if opted_out:
        hits.append(RuleHit("opt_out", "The contact has opted out."))
    if last_inbound_at is None or now - last_inbound_at >= MESSAGING_WINDOW:
        hits.append(RuleHit("window", "More than 24 hours since the contact's last message."))
    if hours.policy == "within" and not hours.is_open(now, tz):
        hits.append(RuleHit("business_hours", "Outside business hours; automatic replies are off."))
    elif hours.policy == "outside" and hours.is_open(now, tz):
        hits.append(RuleHit("business_hours", "During business hours the team answers in person."))
    return hits
