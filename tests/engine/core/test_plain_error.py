"""plain_error: the one message a user is shown for an error a trio nursery
wrapped in exception groups."""

from __future__ import annotations

from threads_desktop.engine.core.errors import NotFoundError, PeerError, error_text, plain_error


def test_a_threads_error_in_nested_groups_is_found() -> None:
    error = NotFoundError("no such album")
    assert plain_error(ExceptionGroup("outer", [ExceptionGroup("inner", [error])])) is error
    assert plain_error(error) is error


def test_several_threads_errors_give_the_first() -> None:
    first, second = PeerError("a"), PeerError("b")
    assert plain_error(ExceptionGroup("nursery", [first, second])) is first


def test_anything_else_inside_is_not_hidden() -> None:
    assert plain_error(ExceptionGroup("nursery", [PeerError("a"), KeyError("bug")])) is None
    assert plain_error(ValueError("bug")) is None


def test_an_error_without_words_is_named_by_its_type_in_logs_and_peer_errors() -> None:
    assert error_text(OSError()) == "OSError"  # a bare network error once left "cannot reach X: " and nothing
    assert error_text(ConnectionResetError("reset by peer")) == "reset by peer"
