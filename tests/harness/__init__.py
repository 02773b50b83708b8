"""The test harness itself: the fake Discord and the OpenAPI checker."""
