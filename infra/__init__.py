"""Keel's AWS stack (CDK), built from `shared.wiring.WIRING`, which the local stack reads too."""
