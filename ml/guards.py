"""Guards a city moderator expects before calling two proposals duplicates.

Semantic similarity says "about the same thing"; a guard says "but it asks for a different
thing": another bus route or house number, the request negated, the opposite action, another
street. Each guard is a small rule over the two texts (Russian and English), deliberately
conservative: it fires only when both texts say something specific and the two disagree, so a
paraphrase that leaves a detail out is not flagged.

* ``numbers`` - both texts contain numbers and *each* has a number the other lacks
  ("автобус 15" / "автобус 51", "дом 7" / "дом 9"; not "3 parks" / "parks", nor
  "route 15" / "route 15 in 2024"). Numbers are canonical: leading zeros dropped, ``№``,
  ordinal endings (``15-й``, ``15th``) and units dropped, a house letter kept (``15а`` is not
  ``15``), thousands written with spaces joined (``1 000``), decimal commas read as points.
  Spelled-out numbers ("два", "five") and scaled amounts ("2 млн") may *cover* a number on
  the other side but never raise a conflict themselves.
* ``negation`` - the main request (the first line: an idea's title) is negated in one text
  and not in the other (parity of negation words: не, нет, ни, без, против, нельзя, never,
  not, no, n't, without, against ...; "отказаться от" counts too).
* ``opposite`` - opposite actions from a lexicon of antonym pairs matched by Snowball stem
  (open/close, build/demolish, increase/reduce, allow/ban, install/remove, start/stop,
  more/less, keep/demolish, открыть/закрыть, построить/снести, ...): one text uses only one
  side of a pair and the other only the opposite side. When ``negation`` and ``opposite``
  both fire they cancel out ("не закрывать парк" / "оставить парк открытым").
* ``street`` - both texts name streets or squares with a marker (улица/ул., проспект,
  переулок, шоссе, бульвар, площадь, набережная, проезд, тупик; Street/St, Road/Rd,
  Avenue/Ave, Lane, Square, Boulevard, capitalised, after the name) and no name is shared (names compared by stem, so
  "улица Ленина" = "ул. Ленина" = "на улице Ленина" and "Ленинский проспект" ~ "проспект Ленина").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import snowballstemmer

from ml.text import cyrillic_share, normalise

__all__ = ["REASONS", "conflicts", "conflicts_many"]

REASONS: dict[str, str] = {
    "numbers": "the texts name different numbers (house, route, amount or year)",
    "negation": "one text negates the request and the other does not",
    "opposite": "the texts ask for opposite actions",
    "street": "the texts name different streets or places",
}

_ORDER = tuple(REASONS)

_RU = snowballstemmer.stemmer("russian")
_EN = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Snowball stem of one normalised word, Russian or English by its first letter."""
    if not word:
        return word
    if "а" <= word[0] <= "я" or word[0] == "й":
        return str(_RU.stemWord(word))
    return str(_EN.stemWord(word))


def _head(text: str) -> str:
    """The main request: the first non-blank line (an idea's title)."""
    for line in text.splitlines():
        if line.strip():
            return line
    return text


# --------------------------------------------------------------------------- numbers

_SPACE_THOUSANDS = re.compile(
    r"(?<![\d.,])(\d{1,3})((?:[ \u00a0\u202f\u2009]\d{3})+)(?![\d]|[.,]\d)"
)
_NUMBER = re.compile(r"(?<!\d)(\d+(?:[.,/:]\d+)*)(?:(-?)([^\W\d_]+))?")
_HOUSE_LETTERS = frozenset("абвгджзик") | frozenset("abc")
_SCALE = {
    "тыс": 3,
    "тысяч": 3,
    "тысяча": 3,
    "тысячи": 3,
    "тысячу": 3,
    "тысячам": 3,
    "тысячами": 3,
    "тысячах": 3,
    "thousand": 3,
    "thousands": 3,
    "k": 3,
    "к": 3,
    "млн": 6,
    "миллион": 6,
    "миллиона": 6,
    "миллионов": 6,
    "миллионам": 6,
    "million": 6,
    "millions": 6,
    "mln": 6,
    "m": 6,
    "млрд": 9,
    "миллиард": 9,
    "миллиарда": 9,
    "миллиардов": 9,
    "billion": 9,
    "billions": 9,
    "bn": 9,
    "трлн": 12,
    "триллион": 12,
    "триллиона": 12,
    "триллионов": 12,
    "trillion": 12,
}
_WORD_NUMBERS: dict[str, str] = {}
for _value, _forms in {
    "1": "one first один одна одно одного одной одному одним одном одну первый первая первое"
    " первого первой первому первым первом первую первые первых",
    "2": "two second twice pair два две двух двум двумя двое двоих второй вторая второе"
    " второго второму вторым втором вторую вторые вторых пара пару",
    "3": "three third thrice три трех трем тремя трое троих третий третья третье третьего"
    " третьей третьему третьим третьем третью третьи третьих",
    "4": "four fourth четыре четырех четырем четырьмя четверо четвертый четвертая четвертое"
    " четвертого четвертой четвертом четвертую",
    "5": "five fifth пять пяти пятью пятеро пятый пятая пятое пятого пятой пятом пятую",
    "6": "six sixth шесть шести шестью шестеро шестой шестая шестое шестого шестом шестую",
    "7": "seven seventh семь семи семью семеро седьмой седьмая седьмое седьмого седьмом",
    "8": "eight eighth восемь восьми восемью восьмой восьмая восьмое восьмого восьмом",
    "9": "nine ninth девять девяти девятью девятый девятая девятое девятого девятом",
    "10": "ten tenth десять десяти десятью десятый десятая десятое десятого десятом десяток",
    "11": "eleven одиннадцать одиннадцати",
    "12": "twelve dozen двенадцать двенадцати дюжина",
    "13": "thirteen тринадцать тринадцати",
    "14": "fourteen четырнадцать четырнадцати",
    "15": "fifteen пятнадцать пятнадцати",
    "16": "sixteen шестнадцать шестнадцати",
    "17": "seventeen семнадцать семнадцати",
    "18": "eighteen восемнадцать восемнадцати",
    "19": "nineteen девятнадцать девятнадцати",
    "20": "twenty двадцать двадцати",
    "30": "thirty тридцать тридцати",
    "40": "forty сорок сорока",
    "50": "fifty пятьдесят пятидесяти",
    "60": "sixty шестьдесят шестидесяти",
    "70": "seventy семьдесят семидесяти",
    "80": "eighty восемьдесят восьмидесяти",
    "90": "ninety девяносто девяноста",
    "100": "hundred сто ста сотня сотни",
    "1000": "thousand тысяча тысячи тысячу",
    "1000000": "million миллион миллиона",
    "1000000000": "billion миллиард миллиарда",
    "1000000000000": "trillion триллион триллиона",
    "1.5": "полтора полторы полутора",
    "0.5": "half половина половину пол",
}.items():
    for _w in _forms.split():
        _WORD_NUMBERS[_w] = _value


def _canon_int(digits: str) -> str:
    return digits.lstrip("0") or "0"


def _canon_decimal(whole: str, frac: str) -> str:
    frac = frac.rstrip("0")
    w = _canon_int(whole)
    return f"{w}.{frac}" if frac else w


def _scaled(value: str, power: int) -> str:
    """``value`` times ``10**power`` in the canonical form ("1.4", 9 -> "1400000000")."""
    return format(Decimal(value).scaleb(power).normalize(), "f")


@dataclass(frozen=True)
class _Numbers:
    hard: frozenset[str]  # every number written in digits
    soft: frozenset[str]  # spelled-out and scaled numbers: they cover, never conflict
    head: frozenset[str]  # numbers in digits in the main request (first line)
    ids: frozenset[str]  # identifiers anywhere: "дом 5", "№ 15", "bus 51", "M25"

    @property
    def cover(self) -> frozenset[str]:
        return self.hard | self.soft


_PANDEMIC = re.compile(r"(covid|ковид|коронавирус\w*)[\s-]*(?:20)?19|sars[\s-]*cov[\s-]*2")
_ID_WORDS = frozenset(
    "no nr num number house flat apartment apt route routes bus buses tram trams line school"
    " building block platform gate unit ward junction exit д кв корп стр".split()
)
_ID_PREFIXES = (
    "дом",
    "корпус",
    "строени",
    "квартир",
    "маршрут",
    "автобус",
    "троллейбус",
    "трамва",
    "школ",
    "гимнази",
    "лице",
    "детсад",
    "сад",
    "поликлиник",
    "больниц",
    "подъезд",
    "участк",
    "линия",
    "линии",
    "платформ",
)
_WORD_BEFORE = re.compile(r"([^\W\d_]+)[.\s]*$")


def _prepare_numbers(text: str) -> str:
    s = text.replace("№", " no ").replace("#", " no ")
    s = unicodedata.normalize("NFKC", s).casefold().replace("ё", "е")
    s = _PANDEMIC.sub(r"\1", s)
    return _SPACE_THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), s)


def _is_identifier(s: str, start: int) -> bool:
    """Whether the number at ``s[start]`` is an identifier: after a marker word ("дом",
    "route", "№") or glued to letters ("m25", "ту-204")."""
    if start and (
        s[start - 1].isalpha() or (s[start - 1] == "-" and start > 1 and s[start - 2].isalpha())
    ):
        return True
    m = _WORD_BEFORE.search(s, max(0, start - 24), start)
    if not m:
        return False
    w = m.group(1)
    return w in _ID_WORDS or w.startswith(_ID_PREFIXES)


def _scan_numbers(s: str, latin: bool) -> tuple[set[str], set[str], set[str]]:
    """(hard, soft, identifiers) of prepared text ``s``."""
    hard: set[str] = set()
    soft: set[str] = set()
    ids: set[str] = set()
    for m in _NUMBER.finditer(s):
        chain, hyphen, letters = m.group(1), m.group(2), m.group(3)
        parts = re.split(r"([.,/:])", chain)
        groups = parts[0::2]
        seps = set(parts[1::2])
        values: list[str]
        if len(groups) == 1:
            values = [_canon_int(groups[0])]
        elif (
            seps <= {",", "."}
            and len(seps) == 1
            and all(len(g) == 3 for g in groups[1:])
            and len(groups[0]) <= 3
            and (len(groups) > 2 or (latin and seps == {","}))
        ):
            values = [_canon_int("".join(groups))]  # 1,000 / 1.000.000
        elif len(groups) == 2 and seps <= {",", "."}:
            values = [_canon_decimal(groups[0], groups[1])]  # 3.5 / 3,5
        else:
            values = [_canon_int(g) for g in groups]  # dates, times, 15/2
        if letters:
            if len(values) == 1 and letters in _SCALE:
                soft.add(_scaled(values[0], _SCALE[letters]))
            elif (
                len(letters) == 1
                and letters in _HOUSE_LETTERS
                and len(values) == 1
                and "." not in values[0]
                and not hyphen
            ):
                values = [values[0] + letters]  # house letter: 15а
            # anything else after a number is a unit or an ordinal ending: 5 км, 15-й, 4th
        hard.update(values)
        if _is_identifier(s, m.start()):
            ids.update(values)
        # the word after a number may scale it: "2 млн", "10 thousand"
        tail = s[m.end() : m.end() + 16].split()
        if len(values) == 1 and not letters and tail:
            word = re.sub(r"[\W_]+", "", tail[0])
            if word in _SCALE:
                soft.add(_scaled(values[0], _SCALE[word]))
    return hard, soft, ids


@lru_cache(maxsize=8192)
def _numbers(text: str) -> _Numbers:
    latin = cyrillic_share(text) < 0.5
    hard, soft, ids = _scan_numbers(_prepare_numbers(text), latin)
    head, _, _ = _scan_numbers(_prepare_numbers(_head(text)), latin)
    for word in normalise(text).split():
        if word in _WORD_NUMBERS:
            soft.add(_WORD_NUMBERS[word])
    return _Numbers(frozenset(hard), frozenset(soft), frozenset(head), frozenset(ids))


def _numbers_conflict(a: str, b: str) -> bool:
    """Each side has a number the other lacks: among the main requests' numbers, or among
    identifiers anywhere (descriptions quote many incidental figures, so only those count)."""
    na, nb = _numbers(a), _numbers(b)
    if (na.head - nb.cover) and (nb.head - na.cover):
        return True
    return bool(na.ids - nb.cover) and bool(nb.ids - na.cover)


# --------------------------------------------------------------------------- negation

_NEGATIONS = frozenset(
    "не нет ни без против нельзя никогда отказ отказа отказаться откажитесь отказаться"
    " not no never without against nor cannot none neither dont doesnt didnt cant isnt"
    " arent wasnt werent shouldnt wouldnt couldnt wont havent hasnt hadnt mustnt neednt"
    " aint".split()
)
_NT_HOSTS = frozenset(
    "don doesn didn can isn aren wasn weren shouldn wouldn couldn won haven hasn hadn mustn"
    " needn ain".split()
)
#: a negation word followed by one of these is not a negated request
_NOT_NEGATING_NEXT = {
    "не": frozenset("только менее более меньше больше раз позднее позже ранее".split()),
    "not": frozenset("only just merely".split()),
    "no": frozenset("matter longer doubt".split()),
    "без": frozenset(("вести",)),  # "пропал без вести": missing
}
_NOT_NEGATING_PREV = {"not": frozenset(("or",))}  # "whether or not"
#: a negation within three words after one of these sits in a subordinate clause
#: ("shops which do not sell food", "чтобы машины не парковались"), not in the request
_SUBORDINATORS = frozenset(
    "which that who whom whose if unless when where while because so until который которая"
    " которое которые которых которым которой котором которую если когда чтобы пока где"
    " хотя поскольку".split()
)


def _negation_count(text: str) -> int:
    words = normalise(_head(text)).split()
    n = 0
    for i, w in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i else ""
        if w in _NEGATIONS:
            if nxt in _NOT_NEGATING_NEXT.get(w, ()):
                continue
            if prev in _NOT_NEGATING_PREV.get(w, ()):
                continue
            if w == "no" and nxt[:1].isdigit():
                continue  # "No. 15"
            if _SUBORDINATORS.intersection(words[max(0, i - 3) : i]):
                continue
            n += 1
        elif w == "t" and prev in _NT_HOSTS:
            n += 1
    return n


def _negation_conflict(a: str, b: str) -> bool:
    return _negation_count(a) % 2 != _negation_count(b) % 2


# --------------------------------------------------------------------------- opposite

#: antonym pairs: (one side, the other side), word forms; matched by Snowball stem
_PAIRS_FORMS: tuple[tuple[str, str], ...] = (
    (
        "open opens opened opening reopen reopening открыть откройте открыли открытие открытия"
        " открывать открывайте открывают откроют откроется открыт открыта открытым переоткрыть",
        "close closes closed closing closure shut shutting закрыть закройте закрыли закрытие"
        " закрытия закрывать закрывают закроют закроется закрыт закрыта",
    ),
    (
        "build builds built building construct construction erect построить постройте построят"
        " построили строить стройте строительство строительства возвести возведение",
        "demolish demolished demolition tear knock снести снесите снесли снос сноса сносить"
        " сносят разрушить разрушение",
    ),
    (
        "increase increases increased increasing raise raised raising boost повысить повысьте"
        " повышение повышения увеличить увеличьте увеличение увеличения поднять поднимите",
        "reduce reduced reducing reduction decrease decreased lower lowered lowering cut"
        " уменьшить уменьшите уменьшение сократить сократите сокращение сокращения понизить"
        " понизьте понижение снизить снизьте снижение снижения",
    ),
    (
        "allow allowed allowing permit permitted legalise legalize legalised legalized"
        " legalisation legalization разрешить разрешите разрешение разрешения легализовать"
        " легализация",
        "ban banned banning forbid forbidden prohibit prohibited prohibition outlaw запретить"
        " запретите запрет запрета запрещение запретят",
    ),
    (
        "add added adding install installed installing installation put place установить"
        " установите установка установки поставить поставьте добавить добавьте добавление",
        "remove removed removing removal dismantle dismantled убрать уберите удалить удалите"
        " демонтировать демонтируйте демонтаж снять снимите",
    ),
    (
        "extend extended extension lengthen prolong продлить продлите продление удлинить",
        "shorten shortened сократить сократите сокращение укоротить",
    ),
    (
        "expand expanded expansion widen widened widening broaden расширить расширьте"
        " расширение расширения",
        "narrow narrowed narrowing сузить сузьте сужение",
    ),
    (
        "start started starting begin resume launch начать начните начало возобновить"
        " возобновите запустить запустите",
        "stop stopped stopping halt cease прекратить прекратите прекращение остановить остановите",
    ),
    ("more больше", "less fewer меньше"),
    (
        "introduce introduced introduction establish ввести введите введение внедрить внедрение",
        "abolish abolished abolition cancel cancelled canceled scrap repeal revoke отменить"
        " отмените отмена отмены упразднить",
    ),
    (
        "keep kept preserve preserved preservation save retain сохранить сохраните сохранение"
        " оставить оставьте сберечь",
        "demolish demolished demolition remove removed removal destroy снести снесите снос"
        " ликвидировать ликвидируйте ликвидация уничтожить",
    ),
    ("включить включите включение", "выключить выключите отключить отключите отключение"),
    (
        "restore restored restoration rebuild восстановить восстановите восстановление",
        "demolish demolished demolition снести снесите снос",
    ),
    (
        "plant planted planting посадить посадите высадить высадите посадка",
        "fell felled вырубить вырубите вырубка спилить спилите",
    ),
)


def _stems(forms: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in normalise(forms).split())


_PAIRS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (_stems(x), _stems(y)) for x, y in _PAIRS_FORMS
)


@lru_cache(maxsize=8192)
def _sides(text: str) -> tuple[int, ...]:
    """Per antonym pair, in the main request: 0 none, 1 first side only, 2 second only, 3 both."""
    stems = {_stem(w) for w in normalise(_head(text)).split()}
    out: list[int] = []
    for x, y in _PAIRS:
        out.append((1 if stems & x else 0) | (2 if stems & y else 0))
    return tuple(out)


def _opposite_conflict(a: str, b: str) -> bool:
    return any({sa, sb} == {1, 2} for sa, sb in zip(_sides(a), _sides(b), strict=True))


# --------------------------------------------------------------------------- street

_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_RU_MARKERS = frozenset(
    "улица улицы улице улицу улицей ул проспект проспекта проспекте проспектом пр-т просп"
    " пр-кт переулок переулка переулке переулком пер шоссе ш бульвар бульвара бульваре"
    " бульваром б-р площадь площади площадью пл набережная набережной набережную наб"
    " проезд проезда проезде тупик тупика тупике".split()
)
_EN_MARKERS = frozenset("street st road rd avenue ave lane ln square sq boulevard blvd".split())
_RU_ADJ_ENDINGS = (
    "ая",
    "яя",
    "ий",
    "ый",
    "ой",
    "ое",
    "ее",
    "ую",
    "юю",
    "ого",
    "его",
    "ому",
    "ему",
    "ом",
    "ем",
    "ых",
    "их",
    "ые",
    "ие",
)
_NAME_STOP = frozenset(
    "the a an this that our my your their his her its every each any new old main"
    " наша наш нашей нашу эта этой эту та той каждая каждой любая любой".split()
)


def _is_name(token: str) -> bool:
    low = token.casefold()
    return (
        token[:1].isupper()
        and low not in _NAME_STOP
        and low not in _RU_MARKERS
        and low not in _EN_MARKERS
    )


def _joined(s: str, left: re.Match[str], right: re.Match[str], *, dot: bool = False) -> bool:
    """Whether two tokens are adjacent words of one phrase (only spaces, or a dot, between)."""
    gap = s[left.end() : right.start()]
    return not gap.strip(" \t\u00a0" + ("." if dot else ""))


def _title_case_start(s: str, toks: list[re.Match[str]], i: int) -> bool:
    """``toks[i-1] toks[i]`` opens a sentence in Title Case ("Improve Street Lighting"): the
    capital of ``toks[i-1]`` then says nothing about a name."""
    before = s[: toks[i - 1].start()].rstrip(" \t\u00a0")
    at_start = not before or before[-1] in ".!?\n:;\"'«("
    nxt = toks[i + 1].group() if i + 1 < len(toks) else ""
    return at_start and nxt[:1].isupper()


@lru_cache(maxsize=8192)
def _street_names(text: str) -> frozenset[str]:
    s = unicodedata.normalize("NFKC", text).replace("ё", "е").replace("Ё", "Е")
    toks = list(_TOKEN.finditer(s))
    names: set[str] = set()
    for i, m in enumerate(toks):
        low = m.group().casefold()
        if low in _RU_MARKERS:
            j = i + 1
            if (
                j + 1 < len(toks)
                and toks[j].group()[:1].isdigit()
                and _joined(s, m, toks[j], dot=True)
            ):
                j += 1  # "улица 8 Марта"
            k, prev = j, toks[j - 1]
            while (
                k < len(toks)
                and k < j + 3
                and _is_name(toks[k].group())
                and _joined(s, prev, toks[k], dot=True)
            ):
                names.add(_stem(normalise(toks[k].group())))
                prev = toks[k]
                k += 1
            if (
                i
                and _is_name(toks[i - 1].group())
                and _joined(s, toks[i - 1], m)
                and toks[i - 1].group().casefold().endswith(_RU_ADJ_ENDINGS)
            ):
                names.add(_stem(normalise(toks[i - 1].group())))  # "Тверская улица"
        elif (
            low in _EN_MARKERS
            and m.group()[:1].isupper()
            and i
            and _is_name(toks[i - 1].group())
            and _joined(s, toks[i - 1], m)
            and not _title_case_start(s, toks, i)
        ):
            names.add(_stem(normalise(toks[i - 1].group())))  # "Baker Street", "Main St"
    return frozenset(n for n in names if n)


def _names_match(x: str, y: str) -> bool:
    if x == y:
        return True
    short, long_ = (x, y) if len(x) <= len(y) else (y, x)
    return len(short) >= 4 and long_.startswith(short)


def _street_conflict(a: str, b: str) -> bool:
    na, nb = _street_names(a), _street_names(b)
    if not na or not nb:
        return False
    return not any(_names_match(x, y) for x in na for y in nb)


# --------------------------------------------------------------------------- public


def _check(a: object, b: object) -> tuple[str, str]:
    if not isinstance(a, str) or not isinstance(b, str):
        raise TypeError(f"conflicts expects two str, got {type(a).__name__} and {type(b).__name__}")
    return a, b


def conflicts(a: str, b: str) -> tuple[str, ...]:
    """Codes (keys of :data:`REASONS`, in their order) of the guards that say ``a`` and ``b``
    are not the same proposal; ``()`` when none does. Symmetric in ``a`` and ``b``.

    >>> conflicts("Bus 15 should run every 10 minutes", "Bus 51 should run every 10 minutes")
    ('numbers',)
    >>> conflicts("Открыть парк ночью", "Закрыть парк ночью")
    ('opposite',)
    >>> conflicts("Разрешить собак в парке", "Не разрешать собак в парке")
    ('negation',)
    >>> conflicts("Ремонт дороги на улице Ленина", "Ремонт дороги на проспекте Мира")
    ('street',)

    A paraphrase that leaves a detail out is not a conflict:

    >>> conflicts("Build 3 parks in the north district", "Build parks in the north district")
    ()
    """
    a, b = _check(a, b)
    found: set[str] = set()
    if _numbers_conflict(a, b):
        found.add("numbers")
    negation = _negation_conflict(a, b)
    opposite = _opposite_conflict(a, b)
    if negation != opposite:  # both: a negated opposite is the same request
        found.add("negation" if negation else "opposite")
    if _street_conflict(a, b):
        found.add("street")
    return tuple(code for code in _ORDER if code in found)


def conflicts_many(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, ...]]:
    """:func:`conflicts` over pairs ``(a[i], b[i])``; the sequences must have equal length."""
    if isinstance(a, str) or isinstance(b, str):
        raise TypeError("conflicts_many expects two sequences of str, not a single str")
    la, lb = list(a), list(b)
    if len(la) != len(lb):
        raise ValueError(f"conflicts_many needs equal lengths, got {len(la)} and {len(lb)}")
    return [conflicts(x, y) for x, y in zip(la, lb, strict=True)]
