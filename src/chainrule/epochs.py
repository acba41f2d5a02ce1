"""Which epochs of a long run record what costs something to measure: all of the first ones, then
fewer and fewer."""

__all__ = ["thinned", "thinned_epochs"]


def thinned(epoch, dense=10):
    """Whether ``epoch`` (1-based) is on the thinning schedule: every epoch up to 2·dense, then
    every 2nd up to 4·dense, every 4th up to 8·dense, … — about ``dense`` epochs per doubling of
    the run, so that a long run of tiny epochs pays for few measurements while anything that
    lasts is still seen within a few percent of the run."""
    stride = 1 << max(0, (epoch // dense).bit_length() - 1)
    return epoch % stride == 0


def thinned_epochs(last, dense=10):
    """The epochs 1 … ``last`` on the thinning schedule, in order: from one, each step is the
    schedule's stride there (the stride doubles at 2·dense, 4·dense, …, themselves multiples of
    the new stride, so every step lands on the schedule)."""
    epoch = 1
    while epoch <= last:
        yield epoch
        epoch += 1 << max(0, (epoch // dense).bit_length() - 1)
