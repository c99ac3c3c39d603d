"""The sound bank: procedural synthesizers for the DCASE classes and domestic backgrounds (synthesizers), the
embedded bank built from them and the index of a user's real DCASE 2020 soundbank (bank), and the manifest that
lists every source file (manifest)."""
