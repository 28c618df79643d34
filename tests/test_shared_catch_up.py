"""SharedCatchUp: requests that need the ranking current share polls, and none is answered from
a poll that began before it asked (webapp/background.py)."""

from __future__ import annotations

import asyncio
import threading
import time

from webapp.background import SharedCatchUp


class Poller:
    """A poll that takes a while and records when each call started and ended."""

    def __init__(self, seconds: float = 0.05, fail: bool = False) -> None:
        self.seconds = seconds
        self.fail = fail
        self.calls = 0
        self.running = threading.Event()
        self.log: list[tuple[str, int]] = []

    def __call__(self) -> int:
        self.calls += 1
        number = self.calls
        self.log.append(("start", number))
        self.running.set()
        time.sleep(self.seconds)
        self.log.append(("end", number))
        if self.fail:
            raise RuntimeError("database restarting")
        return 0


def test_many_requests_at_once_share_one_poll() -> None:
    poller = Poller()

    async def main() -> SharedCatchUp:
        shared = SharedCatchUp(poller)
        await asyncio.gather(*(shared.wait() for _ in range(50)))
        return shared

    shared = asyncio.run(main())
    assert poller.calls == 1 and shared.polls == 1 and shared.requests == 50


def test_a_request_arriving_during_a_poll_waits_for_the_next_one() -> None:
    poller = Poller(seconds=0.2)

    async def main() -> list[str]:
        shared = SharedCatchUp(poller)
        order: list[str] = []
        first = asyncio.create_task(shared.wait())
        while not poller.running.is_set():  # poll 1 has started
            await asyncio.sleep(0.005)
        late = [asyncio.create_task(shared.wait()) for _ in range(10)]
        await first
        order.append(f"first done after poll {poller.calls}")
        assert not any(t.done() for t in late)  # poll 1 began before they asked
        await asyncio.gather(*late)
        order.append(f"late done after poll {poller.calls}")
        return order

    order = asyncio.run(main())
    assert order == ["first done after poll 1", "late done after poll 2"]
    assert poller.log == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_a_failing_poll_fails_no_request_and_the_next_one_runs() -> None:
    poller = Poller(seconds=0.01, fail=True)

    async def main() -> None:
        shared = SharedCatchUp(poller)
        await shared.wait()
        poller.fail = False
        await shared.wait()

    asyncio.run(main())
    assert poller.calls == 2
