"""pytest configuration for the notebook checks (nbval).

nbval runs each cell with ``store_history=False``. IPython decides whether a trailing ``;``
silences a cell's value from the last input in its history, so without history it reads another
cell, and a figure cell ending in ``ax.legend(...);`` would show a ``Legend`` repr that a notebook
(JupyterLab, nbclient, the book build) never shows. Run nbval's cells with history, as they do.
"""

try:
    from nbval.kernel import RunningKernel
except ImportError:  # nbval is not installed: nothing to configure
    RunningKernel = None

if RunningKernel is not None:

    def _execute_with_history(self, cell_input, allow_stdin=None):
        return self.kc.execute(
            cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
        )

    RunningKernel.execute_cell_input = _execute_with_history
