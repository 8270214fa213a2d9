"""The screentone steps' threads (:mod:`rescale.screentone.parallel`)."""

import threading

from rescale.screentone.parallel import ahead, as_done


def test_as_done_yields_each_result_once_and_a_slow_item_does_not_hold_back_the_rest():
    got_one = threading.Event()

    def work(x):
        if x == 0:  # the first item finishes only once a later one has been handed back
            assert got_one.wait(10), "the later items waited for the first"
        return x * x

    out = []
    for y in as_done(work, list(range(6)), workers=2):
        out.append(y)
        got_one.set()
    assert sorted(out) == [x * x for x in range(6)] and out[0] != 0
    assert list(as_done(work, [3, 1, 2], workers=1)) == [9, 1, 4]  # one worker: in order
    # ahead keeps the order of its items.
    assert list(ahead(lambda x: x + 1, list(range(7)), workers=2)) == list(range(1, 8))
