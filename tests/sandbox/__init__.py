"""Tests of the sandbox alone: its REST behaviour, checked against the official specs."""
