"""Quote requests: the words and file names that ask for, or send, a price.

A **quote request** is the first of: an inbound message that asks for a price; an
outbound document whose file name or caption names a quotation, proforma invoice or
price list; a quote recorded by the rep or a CRM (``customer_event`` of kind quote).

Text is folded before matching: Unicode compatibility forms, accents dropped, case
folded, white space collapsed. Words written with spaces between them match as whole
words ("prices" counts, "appreciate" does not); Chinese has no spaces, so its terms
match anywhere in the text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Inbound words that ask for a price, per language; accents are optional on input.
_ASKING_WORDS = (
    # English
    "price",
    "prices",
    "pricing",
    "pricelist",
    "price list",
    "quote",
    "quotes",
    "quotation",
    "quotations",
    "how much",
    "fob",
    "cif",
    "exw",
    "cfr",
    "ddp",
    "moq",
    "unit price",
    "best price",
    "proforma",
    # Spanish
    "precio",
    "precios",
    "cotización",
    "cotizacion",
    "cotizar",
    "cuánto cuesta",
    "cuanto vale",
    "lista de precios",
    "presupuesto",
    # Portuguese
    "preço",
    "preços",
    "cotação",
    "cotações",
    "orçamento",
    "quanto custa",
    "tabela de preços",
    # French
    "prix",
    "devis",
    "tarif",
    "tarifs",
    "combien ça coûte",
    "combien coûte",
    # German
    "preis",
    "preise",
    "preisliste",
    "angebot",
    # Russian
    "цена",
    "цены",
    "цену",
    "цен",
    "прайс",
    "прайс-лист",
    "стоимость",
    "сколько стоит",
    "котировка",
    # Arabic (with and without the article)
    "سعر",
    "السعر",
    "أسعار",
    "الأسعار",
    "عرض سعر",
    "كم السعر",
    "بكم",
)
_ASKING_CJK = ("报价", "價格", "价格", "价钱", "價錢", "多少钱", "多少錢", "单价", "询价", "詢價")

# Names of documents that carry a price: file names and captions of outbound documents.
_DOCUMENT_WORDS = (
    "quotation",
    "quote",
    "proforma",
    "pro forma",
    "pro-forma",
    "pi",
    "price list",
    "pricelist",
    "prices",
    "price",
    "cotización",
    "cotizacion",
    "cotação",
    "orçamento",
    "devis",
    "offre de prix",
    "прайс",
    "прайс-лист",
    "коммерческое предложение",
    "عرض سعر",
    "عرض أسعار",
)
_DOCUMENT_CJK = ("报价单", "报价", "形式发票", "价格表", "價目表", "价目表")


def fold(text: str) -> str:
    """Fold ``text`` for matching: NFKD, accents dropped, case folded, spaces collapsed.

    Args:
        text: any text.

    Returns:
        The folded text.
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())


def _pattern(words: tuple[str, ...], cjk: tuple[str, ...]) -> re.Pattern[str]:
    spaced = sorted({fold(word) for word in words}, key=len, reverse=True)
    whole_words = "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in spaced)
    substrings = "|".join(re.escape(fold(word)) for word in cjk)
    return re.compile(rf"(?<!\w)(?:{whole_words})(?!\w)|{substrings}")


_ASKING = _pattern(_ASKING_WORDS, _ASKING_CJK)
_DOCUMENT = _pattern(_DOCUMENT_WORDS, _DOCUMENT_CJK)
# File names join words with these; read them as spaces ("Proforma_Invoice-12.pdf").
_FILE_SEPARATORS = re.compile(r"[_\-.()\[\]]+")


@lru_cache(maxsize=65536)
def asks_for_price(text: str | None) -> bool:
    """Whether an inbound message's text or caption asks for a price.

    Args:
        text: the message text or caption; None for none.

    Returns:
        True when a word of the quote lexicon appears in it.
    """
    if not text:
        return False
    return _ASKING.search(fold(text)) is not None


def names_a_quote(filename: str | None, caption: str | None) -> bool:
    """Whether an outbound document's file name or caption names a quotation.

    Args:
        filename: the document's file name, if any.
        caption: its caption, if any.

    Returns:
        True for a quotation, proforma invoice ("PI") or price list.
    """
    for name in (filename, caption):
        if name and _DOCUMENT.search(fold(_FILE_SEPARATORS.sub(" ", name))) is not None:
            return True
    return False


def is_quote_content(
    direction: str,
    message_type: str | None,
    text: str | None,
    caption: str | None,
    filename: str | None,
) -> bool:
    """Whether a message's content makes it a quote request, as stored in
    ``message.quote_request`` when the message is stored.

    An inbound message asks for a price in its text or caption; an outbound document
    names a quote in its file name or caption. Whether the outbound document was seen
    (not revoked, not failed) can change later, so the KPI queries check that apart.
    A change to the lexicon needs a migration that recomputes (or resets) the stored
    values.

    Args:
        direction: ``inbound`` or ``outbound``.
        message_type: the message type (``text``, ``document`` …).
        text: the text, if any.
        caption: the caption, if any.
        filename: the file name, if any.

    Returns:
        True when the content is a quote request's.
    """
    if direction == "inbound":
        return asks_for_price(text) or asks_for_price(caption)
    return message_type == "document" and names_a_quote(filename, caption)
