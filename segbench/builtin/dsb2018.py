"""The built-in real dataset ``dsb2018-sample``.

140 real fluorescence images of nuclei with hand-made instance masks from the
2018 Data Science Bowl (BBBC038v1, CC0), shipped inside segbench so that a
suite can test on real data with no download::

    datasets:
      - name: real
        dataset: dsb2018-sample
        split: {train: 24, test: 116}
        reference: true

Images are uint8 ``(Y, X)`` of 256 x 256 to 360 x 360 pixels; masks are uint16
label images. Source, citation, the chosen ids and how they were chosen are in
``data/dsb2018_sample/ATTRIBUTION.md`` next to the files
(``scripts/make_dsb2018_sample.py`` made them).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..api import Dataset, DatasetSource
from ..errors import SegbenchError

#: the sample's folder inside the installed package
FOLDER = ("data", "dsb2018_sample")


def sample_folder() -> Path:
    """The installed ``dsb2018_sample`` folder (``images/``, ``masks/``,
    ``dataset.json``, ``ATTRIBUTION.md``).

    Raises
    ------
    SegbenchError
        The folder is not there (segbench installed without its package data).
    """
    folder = Path(str(resources.files(__package__).joinpath(*FOLDER)))
    if not (folder / "images").is_dir():
        raise SegbenchError(
            f"{folder}: the dsb2018-sample files are missing from this segbench install; "
            "reinstall segbench (pip install --force-reinstall segbench)"
        )
    return folder


class DSB2018Sample(DatasetSource):
    """140 real annotated fluorescence nuclei images (2018 Data Science Bowl, CC0)."""

    name = "dsb2018-sample"
    description = "140 real fluorescence nuclei images with instance masks (2018 Data Science Bowl, CC0)"

    @classmethod
    def constructor_params(cls) -> tuple[str, ...]:
        """The suite params this source accepts: none (the suite validator reads this)."""
        return ()

    def load(self) -> Dataset:
        """The 140 samples, read lazily, in name order.

        Returns
        -------
        segbench.Dataset
            Named ``dsb2018-sample``; each sample's image is uint8 ``(Y, X)``
            and its labels uint16 of the same shape.
        """
        from ..io import open_dataset

        dataset, problems = open_dataset(sample_folder(), name=self.name)
        if problems:
            raise SegbenchError(f"dsb2018-sample is damaged: {problems[0]}; reinstall segbench")
        return dataset
