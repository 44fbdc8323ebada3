"""First guard of the foundation: the package imports, simulates, validates and decomposes."""
import allianceStats as als


def test_simulate_read_decompose_roundtrip():
    data, truth = als.simulate.sdt_cycle(3, 4, 6, seed=5)
    sessions = als.read_sessions(data)
    out = als.decompose(sessions, ["alliance"], therapist="therapist")
    assert len(out) == len(data)
    recon = out["alliance_within"] + out["alliance_between"] + out["alliance_therapist"]
    assert (recon - out["alliance"]).abs().max() < 1e-12
    assert truth["within_paths"]["lag1"]["alliance -> outcome"] == truth["params"]["alliance_to_outcome"]
