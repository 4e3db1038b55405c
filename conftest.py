"""pytest configuration shared by the unit tests and the notebook checks.

nbval leaves images out of its comparison (pixels are not portable across machines), but MyST-NB's
`glue` stores a figure under the key ``application/papermill.record/image/png``, which nbval does
not know. Add the glued image keys to nbval's skip list, so a figure cell's text outputs are
still compared while its pixels are not.
"""

GLUED_IMAGES = (
    "application/papermill.record/image/png",
    "application/papermill.record/image/jpeg",
    "application/papermill.record/image/svg+xml",
)

try:
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is not installed: nothing to configure
    IPyNbFile = None

if IPyNbFile is not None:
    _nbval_init = IPyNbFile.__init__

    def _init_skipping_glued_images(self, *args, **kwargs):
        _nbval_init(self, *args, **kwargs)
        self.skip_compare = tuple(self.skip_compare) + GLUED_IMAGES

    IPyNbFile.__init__ = _init_skipping_glued_images
