from tests.helpers import Browser
from webapp.kernel.dto import CurrentUser


def test_home_page_renders_in_russian_by_default(browser: Browser) -> None:
    response = browser.get("/")
    assert response.status_code == 200
    assert '<html lang="ru">' in response.text


def test_citizen_can_log_in(browser: Browser, citizen: CurrentUser) -> None:
    browser.login(citizen.email)
    assert citizen.display_name in browser.get("/").text
