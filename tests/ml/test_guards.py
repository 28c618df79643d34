"""ml.guards: each guard catches what a moderator would, and stays quiet on paraphrases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.guards import REASONS, conflicts, conflicts_many


def test_reasons_describe_every_code() -> None:
    assert list(REASONS) == ["numbers", "negation", "opposite", "street"]
    assert all(isinstance(v, str) and v for v in REASONS.values())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Bus 15 should run every 10 minutes", "Bus 51 should run every 10 minutes"),
        ("Отремонтировать подъезд в доме 7", "Отремонтировать подъезд в доме 9"),
        ("Продлить маршрут автобуса №15 до вокзала", "Продлить маршрут автобуса №51 до вокзала"),
        ("Детская площадка у дома 15а", "Детская площадка у дома 15"),
        ("Построить школу на 1 000 мест", "Построить школу на 1 200 мест"),
        (
            "Снизить плату за парковку до 3,5 рубля в час",
            "Снизить плату за парковку до 4,5 рубля в час",
        ),
        ("Resurface the M25 near junction 10", "Resurface the M4 near junction 10"),
    ],
)
def test_numbers_conflict(a: str, b: str) -> None:
    assert conflicts(a, b) == ("numbers",)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Build 3 parks in the north district", "Build parks in the north district"),
        ("Extend route 15 to the station", "Extend route 15 to the station in 2024"),
        ("Постройте детскую площадку во дворе дома 5", "Нужна детская площадка во дворе дома №5"),
        ("Посадить 1 000 деревьев вдоль набережной", "Посадить 1000 деревьев вдоль набережной"),
        ("Выделить 2 млн рублей на ремонт школы", "Выделить 2000000 рублей на ремонт школы"),
        ("Пустить два автобуса на маршрут", "Пустить 2 автобуса на маршрут"),
        ("Open the 5th floor of the library", "Open the fifth floor of the library"),
        ("Открыть 15-й корпус больницы", "Открыть корпус 15 больницы"),
        ("Ремонт школы 015", "Ремонт школы №15"),
        ("Субботник 12.05.2024", "Субботник 12 мая 2024 года"),
        (
            "Stop the spread of COVID-19 in care homes",
            "Stop the spread of the virus in care homes in 2020",
        ),
    ],
)
def test_numbers_no_false_alarm(a: str, b: str) -> None:
    assert "numbers" not in conflicts(a, b)


def test_numbers_in_descriptions_only_identifiers_count() -> None:
    a = "Отремонтировать крышу\nВ 2019 году крыша протекала, пострадали 12 квартир."
    b = "Починить крышу\nС 2021 года жалобы от 30 жильцов, ответа нет."
    assert "numbers" not in conflicts(a, b)
    a2 = "Отремонтировать крышу\nРечь о доме 7 по улице Мира."
    b2 = "Отремонтировать крышу\nРечь о доме 9 по улице Мира."
    assert conflicts(a2, b2) == ("numbers",)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Вырубить старые тополя во дворе", "Не вырубать старые тополя во дворе"),
        ("Allow dogs in the central park", "Do not allow dogs in the central park"),
        (
            "Dogs should be allowed in the central park",
            "Dogs shouldn't be allowed in the central park",
        ),
        ("Платная парковка у поликлиники", "Нет платной парковке у поликлиники"),
    ],
)
def test_negation_conflict(a: str, b: str) -> None:
    assert conflicts(a, b) == ("negation",)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Не вырубайте сквер на Садовой",
            "Не трогайте сквер на Садовой, не надо его вырубать! Нет вырубке!",
        ),
        ("Купить нетбуки для школы", "Купить ноутбуки для школы"),
        ("Not only more benches but also bins", "More benches and bins"),
        (
            "Поставить ограждение, чтобы машины не парковались на газоне",
            "Поставить ограждение у газона",
        ),
        ("Пропал без вести кот", "Потерялся кот"),
        ("Repair the road to school No. 5", "Repair the road to school number 5"),
    ],
)
def test_negation_no_false_alarm(a: str, b: str) -> None:
    assert "negation" not in conflicts(a, b)


def test_negation_only_reads_the_main_request() -> None:
    a = "Открыть каток в парке\nСейчас зимой детям некуда пойти, катка нет."
    b = "Открыть каток в парке\nЗимой в парке очень много детей."
    assert conflicts(a, b) == ()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Open the park at night", "Close the park at night"),
        ("Открыть библиотеку по воскресеньям", "Закрыть библиотеку по воскресеньям"),
        ("Построить гаражи во дворе", "Снести гаражи во дворе"),
        ("Увеличить число урн на набережной", "Сократить число урн на набережной"),
        ("Разрешить выгул собак в парке", "Запретить выгул собак в парке"),
        ("Установить лежачих полицейских на Садовой", "Убрать лежачих полицейских на Садовой"),
        ("Install more speed bumps near the school", "Remove speed bumps near the school"),
        ("Больше велодорожек в центре", "Меньше велодорожек в центре"),
        ("Сохранить старый рынок", "Снести старый рынок"),
        ("Legalise street art on the embankment", "Ban street art on the embankment"),
        ("Raise parking fees downtown", "Lower parking fees downtown"),
    ],
)
def test_opposite_conflict(a: str, b: str) -> None:
    assert conflicts(a, b) == ("opposite",)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Open the park at night", "Keep the park open at night"),
        ("Close the road and open a park", "Open a park and close the road"),
        ("Не закрывайте библиотеку", "Оставьте библиотеку открытой"),
        ("Don't demolish the old market", "Preserve the old market"),
        ("Открыть новый бассейн", "Откройте бассейн в нашем районе"),
    ],
)
def test_opposite_no_false_alarm(a: str, b: str) -> None:
    assert conflicts(a, b) == ()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Пешеходный переход на улице Ленина", "Пешеходный переход на улице Гагарина"),
        ("Отремонтировать тротуар на Тверской улице", "Отремонтировать тротуар на ул. Мира"),
        ("Plant trees on Baker Street", "Plant trees on Oxford Street"),
        ("Cycle lane along Mill Road", "Cycle lane along Hills Rd"),
    ],
)
def test_street_conflict(a: str, b: str) -> None:
    assert conflicts(a, b) == ("street",)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Пешеходный переход на улице Ленина", "Нужен переход через ул. Ленина"),
        ("Фонари на улица Ленина", "Фонари на Ленинском проспекте"),
        ("Скамейки на Тверской улице", "Скамейки на улице Тверской"),
        ("Plant trees on Baker Street", "More trees for Baker St please"),
        ("Improve Street Lighting on Mill Road", "Brighter lamps on Mill Road"),
        ("Починить фонари на нашей улице", "Починить фонари на улице Мира"),
        ("Детская площадка на площади Победы", "Детская площадка в парке"),
    ],
)
def test_street_no_false_alarm(a: str, b: str) -> None:
    assert "street" not in conflicts(a, b)


def test_several_guards_in_fixed_order() -> None:
    a = "Открыть остановку автобуса 15 на улице Ленина"
    b = "Закрыть остановку автобуса 51 на улице Гагарина"
    assert conflicts(a, b) == ("numbers", "opposite", "street")


def test_conflicts_many() -> None:
    a = ["bus 15", "Open the park", "Plant trees"]
    b = ["bus 51", "Close the park", "Plant more trees"]
    assert conflicts_many(a, b) == [("numbers",), ("opposite",), ()]
    assert conflicts_many([], []) == []


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        conflicts_many(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="single str"):
        conflicts_many("ab", "cd")
    with pytest.raises(TypeError, match="two str"):
        conflicts("a", None)  # type: ignore[arg-type]


civic_words = st.sampled_from(
    "открыть закрыть не нет построить снести улица ул. Ленина Мира дом №5 15 51 15а 1 000"
    " 3,5 автобус open close not don't bus Street Baker Oxford 2024 more less build"
    " demolish парк park без no , . \n".split(" ")
)
civic_text = st.lists(civic_words, max_size=12).map(" ".join) | st.text(max_size=40)


@settings(max_examples=400, deadline=None)
@given(civic_text, civic_text)
def test_conflicts_symmetric(a: str, b: str) -> None:
    assert set(conflicts(a, b)) == set(conflicts(b, a))
    assert set(conflicts(a, b)) <= set(REASONS)


@settings(max_examples=300, deadline=None)
@given(civic_text)
def test_no_conflict_with_itself(a: str) -> None:
    assert conflicts(a, a) == ()
