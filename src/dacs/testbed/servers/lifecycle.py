"""The ``with`` form shared by every throwaway service: start on entry, clean up on exit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class ThrowawayService(ABC):
    """A local service a test or the demo starts, uses and removes."""

    @abstractmethod
    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the service accepts connections."""

    @abstractmethod
    def cleanup(self) -> None:
        """Stop and remove whatever the service left behind."""

    def __enter__(self) -> Self:
        """Start the service."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the service and clean up."""
        self.cleanup()
