"""The sound bank: procedural synthesizers for the DCASE classes and domestic backgrounds, the embedded bank
built from them, and the index of a user's real DCASE 2020 soundbank. See `bank` for the manifest format."""
from .bank import AUDIO_SUFFIXES, PARTITIONS, build_embedded_bank, index_soundbank
from .manifest import MANIFEST_COLUMNS, MANIFEST_NAME, read_manifest, write_manifest
from .synthesizers import (
    BACKGROUND_LEVELS_DB,
    BACKGROUND_SYNTHESIZERS,
    CLASS_DURATIONS,
    CLASS_SYNTHESIZERS,
    PEAK_RANGE,
    alarm_bell_ringing,
    blender,
    cat,
    dishes,
    distant_rumble,
    dog,
    electric_shaver_toothbrush,
    frying,
    mains_hum,
    room_tone,
    running_water,
    speech,
    vacuum_cleaner,
    ventilation,
)

__all__ = [
    "AUDIO_SUFFIXES", "MANIFEST_COLUMNS", "MANIFEST_NAME", "PARTITIONS", "build_embedded_bank", "index_soundbank",
    "read_manifest", "write_manifest", "BACKGROUND_LEVELS_DB", "BACKGROUND_SYNTHESIZERS", "CLASS_DURATIONS",
    "CLASS_SYNTHESIZERS", "PEAK_RANGE", "alarm_bell_ringing", "blender", "cat", "dishes", "distant_rumble", "dog",
    "electric_shaver_toothbrush", "frying", "mains_hum", "room_tone", "running_water", "speech", "vacuum_cleaner",
    "ventilation",
]
