"""Data making: Scaper synthesis of the synthetic domain and the simulated real-world domain."""
