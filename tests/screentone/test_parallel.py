"""The screentone steps' threads (:mod:`rescale.screentone.parallel`)."""

import threading

from rescale.screentone.parallel import ahead, as_done, largest_first


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


def test_largest_first_orders_the_labels_by_box_area_and_drops_absent_ones():
    import numpy as np
    from scipy import ndimage

    labels = np.zeros((20, 20), dtype=int)
    labels[0:2, 0:2], labels[5:15, 5:9], labels[3:4, 10:20], labels[16:19, 0:2] = 1, 2, 4, 5  # no 3
    items = largest_first(ndimage.find_objects(labels))
    assert [k for k, _ in items] == [2, 4, 5, 1]  # areas 40, 10, 6, 4
    assert all(box == ndimage.find_objects(labels)[k - 1] for k, box in items)
