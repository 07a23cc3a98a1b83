"""Outbound checks: what the final text of a reply may carry, decided without asking any model.

Run on the text that would be sent (after the reviewer's rewrite and the finalizer). Each check
returns blocking `RuleHit`s; any hit keeps the draft for a human.

    markdown_link      a Markdown or HTML link (the DM would show a disguised address)
    unverified_link    a URL, bare domain or e-mail address that is not in the knowledge base, the
                       workspace's allowlist or the conversation; link shorteners unless allowlisted
    unverified_phone   a phone number that is not in the knowledge base, allowlist or conversation
    ungrounded_offer   a price, percentage, discount or "free" the retrieved sources do not state
    prompt_leak        the business prompt or Sidekick's rules, verbatim, disguised or paraphrased
    hidden_characters  zero-width or bidi-control characters
    mixed_script       a word mixing alphabets ("pаypal" with a Cyrillic "а")
    blacklist          a blacklisted topic, in any word form (see rules.blacklisted_phrase)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from conversations.pipeline import rules
from conversations.pipeline.text import has_invisible, mixed_script_tokens, skeleton, words_deobfuscated

# Common top-level domains: a bare "name.tld" with one of these is read as a domain. A scheme or
# "www." makes any TLD count. (Keeps "thanks.See you" or "e.g." from reading as domains.)
_TLDS = ("com net org io co ly me app shop store info biz us uk de fr es it pt br mx ar cl pe ca au nz nl be ch at "
         "ie eu link site online xyz top club live pro ai gg to tv cc ws in ru cn jp kr gl gd page click buzz icu "
         "vip win bid loan work gq ml ga cf tk su ua pl se no dk fi cz gr tr za ng ke sg hk tw my ph id vn th "
         "cloud digital email today world network agency studio fitness salon health care beauty academy").split()
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]\"']+", re.I)
_DOMAIN = re.compile(r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + "|".join(_TLDS) +
                     r"))(?![\w-])(?:/[^\s<>()\"']*)?", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w$€£/=:#])\+?\(?\d[\d\s().-]{5,}\d(?![\w%])")
# Dates and times are numbers too: taken out before phone numbers are looked for.
_DATES_AND_TIMES = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{1,2}[:h]\d{2}\b", re.I)
_MARKDOWN_LINK = re.compile(r"\[[^\]\n]{1,300}\]\(\s*[^)\s]+[^)]*\)|<a\s[^>]*href", re.I)
_SHORTENERS = {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly",
               "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "s.id", "bl.ink", "short.io", "lnkd.in", "shorte.st",
               "adf.ly", "v.gd", "qr.io", "linktr.ee", "tiny.one", "urlz.fr", "x.gd"}

_MONEY = re.compile(
    r"(?:[$€£¥₹]|r\$|us\$|usd|eur|gbp|mxn|brl|chf)\s?\d[\d.,]*"
    r"|\d[\d.,]*\s?(?:[$€£¥₹]|(?:usd|eur|gbp|mxn|brl|chf|dollars?|bucks|euros?|pounds?|pesos?|reais|reales|francs?)\b)",
    re.I)
_PERCENT = re.compile(r"\d[\d.,]*\s?(?:%|percent\b|per cent\b|por ciento\b|pour cent\b|prozent\b|per cento\b|por cento\b)",
                      re.I)
# Offer words that state a price by themselves; grounded only when the sources use the same family.
_OFFER_WORDS = {
    "free": ("free", "gratis", "gratuit", "gratuite", "gratuito", "gratuita", "kostenlos", "umsonst", "de graca",
             "on the house", "complimentary", "no charge", "no cost"),
    "discount": ("discount", "descuento", "desconto", "remise", "rabatt", "sconto", "% off", "percent off",
                 "half price", "half off", "promo code", "coupon", "voucher", "bogo", "buy one get one",
                 "2 for 1", "two for one", "2x1", "promocion", "promocao", "reduction", "offerta"),
}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

# What a reply says when it talks about its own instructions.
_META_TALK = re.compile(
    r" (?:my|mis|meus|mes|meine|le mie|i miei) (?:system )?(?:instructions|prompt|rules|guidelines|programming|instrucciones|"
    r"reglas|instrucoes|regras|consignes|anweisungen|regeln|istruzioni|regole) "
    r"| (?:i was|i ve been|i have been|i am|i m) (?:told|instructed|programmed|prompted|configured) (?:to|not to|that) "
    r"| (?:the|my) (?:system prompt|system message|hidden prompt|initial prompt) "
    r"| (?:me dijeron|me indicaron|me programaron|me disseram|on m a dit|mir wurde gesagt|mi hanno detto) ")
_STOP = set(("a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
             "these those i you he she we they me my your our their us them do does did have has had not no yes so "
             "than then there here what which who whom when where why how can could will would should may might must "
             "just only also very too more most some any all each every both few many much such own same other into "
             "out up down over under again about").split())


@dataclass
class Grounding:
    """What a reply may draw on: the retrieved sources, the conversation, the allowlist, the whole KB."""

    sources_text: str = ""
    conversation_text: str = ""
    allowed_domains: list[str] = field(default_factory=list)
    # (needle, digits_only) -> does any chunk of the knowledge base contain it; None: no lookup.
    knowledge_mentions: Callable[[str, bool], bool] | None = None

    def _in_text(self, needle: str) -> bool:
        needle = needle.lower()
        return needle in self.sources_text.lower() or needle in self.conversation_text.lower()

    def knows(self, needle: str) -> bool:
        return self._in_text(needle) or bool(self.knowledge_mentions and self.knowledge_mentions(needle, False))

    def knows_digits(self, digits: str) -> bool:
        texts = re.sub(r"\D", "", self.sources_text) + " " + re.sub(r"\D", "", self.conversation_text)
        return digits in texts or bool(self.knowledge_mentions and self.knowledge_mentions(digits, True))

    def allows_domain(self, domain: str) -> bool:
        domain = domain.lower().removeprefix("www.")
        for allowed in self.allowed_domains:
            allowed = allowed.strip().lower().removeprefix("https://").removeprefix("http://").removeprefix("www.")
            allowed = allowed.split("/")[0]
            if allowed and (domain == allowed or domain.endswith("." + allowed)):
                return True
        return False


def _domain_of(link: str) -> str:
    host = re.sub(r"^(?:https?://)", "", link, flags=re.I).split("/")[0].split("?")[0].split("#")[0]
    return host.split("@")[-1].split(":")[0].lower().removeprefix("www.").rstrip(".")


def links_in(text: str) -> list[str]:
    """URLs and bare domains, as written (trailing punctuation dropped)."""
    found = [m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)]
    without_urls = _URL.sub(" ", text)
    without_emails = _EMAIL.sub(" ", without_urls)
    found += [m.group(0).rstrip(".,;:!?") for m in _DOMAIN.finditer(without_emails)]
    return found


def phones_in(text: str) -> list[str]:
    found = []
    for match in _PHONE.finditer(_DATES_AND_TIMES.sub(" ", text)):
        candidate = match.group(0).strip().strip("()")
        if 7 <= len(re.sub(r"\D", "", candidate)) <= 15:
            found.append(candidate)
    return found


def _check_links(text: str, grounding: Grounding) -> list[rules.RuleHit]:
    hits = []
    for link in links_in(text):
        domain = _domain_of(link)
        if grounding.allows_domain(domain):
            continue
        if domain in _SHORTENERS:
            hits.append(rules.RuleHit("unverified_link", f"The draft carries a shortened link ({link[:80]})."))
            continue
        if not (grounding.knows(link) or grounding.knows(domain)):
            hits.append(rules.RuleHit("unverified_link",
                                      f"The draft carries a link the knowledge base does not give ({link[:80]})."))
    for email in _EMAIL.findall(text):
        if not (grounding.allows_domain(_domain_of(email)) or grounding.knows(email)):
            hits.append(rules.RuleHit("unverified_link",
                                      f"The draft carries an e-mail address the knowledge base does not give ({email[:80]})."))
    return hits[:3]


def _check_phones(text: str, grounding: Grounding) -> list[rules.RuleHit]:
    hits = []
    for phone in phones_in(_EMAIL.sub(" ", _URL.sub(" ", text))):
        if not grounding.knows_digits(re.sub(r"\D", "", phone)):
            hits.append(rules.RuleHit("unverified_phone",
                                      f"The draft carries a phone number the knowledge base does not give ({phone})."))
    return hits[:3]


def _numbers(text: str) -> set[float]:
    values = set()
    for raw in _NUMBER.findall(text):
        for candidate in {raw.replace(",", ""), raw.replace(".", "").replace(",", "."), raw.replace(",", ".")}:
            try:
                values.add(round(float(candidate), 2))
            except ValueError:
                continue
    return values


def _check_offers(text: str, sources_text: str) -> list[rules.RuleHit]:
    """Prices, percentages and offer words must be stated by the retrieved sources themselves."""
    hits = []
    source_numbers = _numbers(sources_text)
    for match in list(_MONEY.finditer(text)) + list(_PERCENT.finditer(text)):
        numbers = _numbers(match.group(0))
        if not numbers or not numbers & source_numbers:
            hits.append(rules.RuleHit("ungrounded_offer",
                                      f"The draft states {match.group(0).strip()!r}, which no retrieved source gives."))
    reply_form, source_form = words_deobfuscated(text), words_deobfuscated(sources_text)
    for family, terms in _OFFER_WORDS.items():
        said = [t for t in terms if f" {words_deobfuscated(t).strip()} " in reply_form or (t.startswith("%") and t in text)]
        if said and not any(f" {words_deobfuscated(t).strip()} " in source_form or (t.startswith("%") and t in sources_text)
                            for t in terms):
            hits.append(rules.RuleHit("ungrounded_offer",
                                      f"The draft offers something {family} ({said[0]!r}) that no retrieved source states."))
    return hits[:3]


def _content_words(text: str) -> list[str]:
    return [w for w in words_deobfuscated(text).split() if w not in _STOP and len(w) > 2]


def _bigrams(tokens: list[str]) -> set[tuple[str, str]]:
    return {(a[:6], b[:6]) for a, b in zip(tokens, tokens[1:], strict=False)}


@lru_cache(maxsize=64)
def _protected_forms(protected: str, shingle: int) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """The protected text's word runs and content-word pairs, built once per prompt text (every reply of
    a workspace checks against the same one)."""
    prompt_words = words_deobfuscated(protected).split()
    runs = frozenset(" ".join(prompt_words[i:i + shingle]) for i in range(max(0, len(prompt_words) - shingle + 1)))
    return runs, frozenset(_bigrams(_content_words(protected)))


def leaks_prompt(reply: str, protected: str, *, allowed: str = "", shingle: int = 5) -> str:
    """Why the reply reveals the protected text, or "".

    Compared on normalised text (look-alike letters, zero-width characters, leetspeak undone):
    a run of `shingle` words of the protected text, or at least three of its content-word pairs
    that the sources and conversation (`allowed`) do not also hold (a paraphrase keeps pairs of
    content words: "warm, brief and concrete" -> "brief, warm, concrete" still shares two), or the
    reply talking about its own instructions.
    """
    if not protected.strip() or not reply.strip():
        return ""
    runs, protected_pairs = _protected_forms(protected, shingle)
    reply_form = words_deobfuscated(reply)
    reply_words = reply_form.split()
    if len(reply_words) >= shingle and any(" ".join(reply_words[i:i + shingle]) in runs
                                           for i in range(len(reply_words) - shingle + 1)):
        return "The draft repeats the system prompt word for word."
    if _META_TALK.search(reply_form):
        return "The draft talks about its own instructions."
    # Pairs in any order within the reply: paraphrases reorder.
    reply_tokens = _content_words(reply)
    reply_pairs = _bigrams(reply_tokens) | {(b, a) for a, b in _bigrams(reply_tokens)}
    reply_pairs |= {(a[:6], c[:6]) for a, _, c in zip(reply_tokens, reply_tokens[1:], reply_tokens[2:], strict=False)}
    shared = protected_pairs & reply_pairs
    if len(shared) < 3:
        return ""
    allowed_tokens = _content_words(allowed)  # only now: most replies share nothing with the prompt
    allowed_pairs = _bigrams(allowed_tokens) | {(b, a) for a, b in _bigrams(allowed_tokens)}
    if len(shared - allowed_pairs) >= 3:
        return "The draft paraphrases the system prompt."
    return ""


def leaks_system_prompt(reply: str, system_prompt: str) -> bool:
    return bool(leaks_prompt(reply, system_prompt))


def check_draft(reply: str, *, system_prompt: str = "", blacklist: list[str] | None = None, max_chars: int = 2000,
                raw_text: str = "", grounding: Grounding | None = None) -> list[rules.RuleHit]:
    """Every check on what Sidekick is about to send: empty, far too long, then the outbound checks.

    `system_prompt` is the protected text (`prompt.protected_text`); `grounding` what the reply may
    draw on (none given: nothing is grounded, so any link, phone number or price is refused).
    """
    hits = []
    if not (reply or "").strip():
        hits.append(rules.RuleHit("empty", "The draft is empty."))
    if len(reply or "") > max_chars * 2:
        hits.append(rules.RuleHit("length", f"The draft is far over the platform limit ({len(reply)} characters)."))
    return hits + check_outbound(reply or "", raw_text=raw_text, grounding=grounding or Grounding(),
                                 protected=system_prompt, blacklist=blacklist)


def check_outbound(text: str, *, raw_text: str = "", grounding: Grounding, protected: str = "",
                   blacklist: list[str] | None = None) -> list[rules.RuleHit]:
    """Every outbound check on the final text (and the model's raw text for markup and hidden characters)."""
    hits = []
    if _MARKDOWN_LINK.search(raw_text or "") or _MARKDOWN_LINK.search(text):
        hits.append(rules.RuleHit("markdown_link", "The draft hides a link behind Markdown or HTML."))
    if has_invisible(raw_text) or has_invisible(text):
        hits.append(rules.RuleHit("hidden_characters", "The draft holds invisible (zero-width or bidi) characters."))
    mixed = mixed_script_tokens(text)
    if mixed:
        hits.append(rules.RuleHit("mixed_script", f"The draft mixes alphabets in a word ({mixed[0]!r})."))
    visible = skeleton(text)
    hits += _check_links(visible, grounding)
    hits += _check_phones(visible, grounding)
    leak = leaks_prompt(text, protected, allowed=grounding.sources_text + "\n" + grounding.conversation_text)
    if leak:
        hits.insert(0, rules.RuleHit("prompt_leak", leak))
    phrase = rules.blacklisted_phrase(text, blacklist or [])
    if phrase:
        hits.insert(0, rules.RuleHit("blacklist", f"The draft mentions a blacklisted topic ({phrase!r})."))
    hits += _check_offers(visible, grounding.sources_text)
    return hits
