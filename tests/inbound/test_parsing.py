"""Reading received mail: bounces, automatic replies, references and the reply's own text."""

from __future__ import annotations

from email.message import EmailMessage
from types import SimpleNamespace

from leadline.inbound.parsing import (
    asks_to_stop,
    auto_reply_reason,
    bounce_read,
    excerpt,
    received_parse,
    referenced_ids,
    reply_text,
)
from tests import factories

SENT = SimpleNamespace(
    to=["pat@company.example"],
    subject="A faster month-end close",
    message_id="<abc.123@leadline.localhost>",
    text="Hi Pat,\nWould a call help?",
)


def _message(**headers: str) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Hello")
    return message


def test_a_postfix_dsn_names_the_original_the_recipient_and_a_hard_status() -> None:
    parsed = received_parse(factories.bounce_mail(to=SENT))
    bounce = bounce_read(parsed.message)
    assert bounce is not None
    assert bounce.standard
    assert bounce.original_message_id == "<abc.123@leadline.localhost>"
    [failure] = bounce.failures
    assert failure.recipient == "pat@company.example"
    assert failure.status == "5.1.1"
    assert failure.hard
    assert failure.failed
    assert "User unknown" in failure.diagnostic


def test_a_4xx_failure_is_soft_and_a_delay_is_no_failure_to_act_on() -> None:
    soft = bounce_read(received_parse(factories.bounce_mail(to=SENT, status="4.2.2")).message)
    assert soft is not None
    assert not soft.failures[0].hard
    assert soft.failures[0].failed
    delayed = bounce_read(
        received_parse(factories.bounce_mail(to=SENT, status="4.4.1", action="delayed")).message
    )
    assert delayed is not None
    assert not delayed.failures[0].hard


def test_a_dsn_carrying_the_whole_original_message_is_read_too() -> None:
    raw = (
        "From: postmaster@mx.example\r\n"
        "To: leadline@localhost\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type="delivery-status"; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        "Final-Recipient: rfc822;Pat@Company.example\r\nAction: failed\r\nStatus: 5.2.1\r\n"
        "\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: leadline@localhost\r\nTo: pat@company.example\r\nMessage-ID: {SENT.message_id}\r\n"
        "Subject: A faster month-end close\r\n\r\nHi Pat\r\n"
        "--b1--\r\n"
    ).encode()
    bounce = bounce_read(received_parse(raw).message)
    assert bounce is not None
    assert bounce.standard
    assert bounce.original_message_id == SENT.message_id
    assert [(f.recipient, f.status, f.hard) for f in bounce.failures] == [
        ("pat@company.example", "5.2.1", True)
    ]


def test_a_bounce_without_a_report_is_read_from_its_words() -> None:
    message = _message(
        From="MAILER-DAEMON@mail.example",
        To="leadline@localhost",
        Subject="failure notice",
        X_Failed_Recipients="pat@company.example",
    )
    message.set_content(
        "Hi. This is the qmail-send program.\n<pat@company.example>:\n"
        "Remote host said: 550 5.1.1 mailbox unavailable\n\n--- Below this line is a copy.\n\n"
        f"Message-ID: {SENT.message_id}\nSubject: {SENT.subject}\n"
    )
    bounce = bounce_read(received_parse(message.as_bytes()).message)
    assert bounce is not None
    assert not bounce.standard
    assert bounce.original_message_id == SENT.message_id
    assert [(f.recipient, f.status) for f in bounce.failures] == [("pat@company.example", "5.1.1")]


def test_a_reply_is_no_bounce_and_names_the_mail_it_answers_first() -> None:
    reply = factories.reply_mail(to=SENT)
    reply.replace_header("References", f"<thread-start@x> {SENT.message_id}")
    parsed = received_parse(reply.as_bytes())
    assert bounce_read(parsed.message) is None
    assert referenced_ids(parsed.message) == [SENT.message_id, "<thread-start@x>"]
    assert parsed.from_address == "pat@company.example"
    assert auto_reply_reason(parsed.message) == ""


def test_automatic_replies_are_recognised_by_header_or_subject() -> None:
    assert auto_reply_reason(_message(Auto_Submitted="auto-replied", Subject="Re: hi")) == (
        "automatic reply"
    )
    assert auto_reply_reason(_message(Subject="Out of Office: back on Monday")) == "out of office"
    assert auto_reply_reason(_message(Subject="Automatic reply: A faster close")) == (
        "automatic reply"
    )
    assert auto_reply_reason(_message(X_Autoreply="yes", Subject="Abwesenheit")) == (
        "out of office"
    )
    assert auto_reply_reason(_message(Auto_Submitted="no", Subject="Re: hi")) == ""
    assert auto_reply_reason(_message(Subject="Re: out of office tools you sell?")) == ""


def test_the_reply_text_leaves_the_quoted_history_out() -> None:
    reply = factories.reply_mail(to=SENT, text="Yes, Tuesday works.\n\nBest,\nPat")
    assert (
        reply_text(received_parse(reply.as_bytes()).message) == "Yes, Tuesday works.\n\nBest,\nPat"
    )
    outlook = _message(From="pat@company.example")
    outlook.set_content(
        "Sounds good, call me.\n\n________________________________\nFrom: Leadline\n"
        "Sent: Monday\nSubject: A faster close\n\nHi Pat"
    )
    assert reply_text(outlook) == "Sounds good, call me."
    wrapped = _message(From="pat@company.example")
    wrapped.set_content(
        "Not now, thanks.\n\nOn Mon, 23 Nov 2026 at 10:00, Leadline <x@y>\nwrote:\n> Hi"
    )
    assert reply_text(wrapped) == "Not now, thanks."


def test_an_html_only_reply_is_read_as_text_without_the_quote() -> None:
    message = EmailMessage()
    message["From"] = "pat@company.example"
    message.set_content(
        '<div>Let&#39;s talk <b>Thursday</b>.</div><div class="gmail_quote">On Mon… wrote:'
        "<blockquote>Hi Pat</blockquote></div>",
        subtype="html",
    )
    assert reply_text(message) == "Let's talk Thursday."


def test_the_excerpt_is_the_first_lines_shortened() -> None:
    assert excerpt("\n\nOne\n\nTwo\nThree\nFour") == "One / Two / Three"
    assert len(excerpt("x" * 1000)) == 280


def test_garbage_is_parsed_without_raising_and_is_not_a_mail() -> None:
    for raw in (b"", b"hello world", b"\x00\xff\xfe binary \x80", b'{"json": true}'):
        parsed = received_parse(raw)
        assert not parsed.looks_like_mail
        assert parsed.message_id.startswith("sha256:")
        assert bounce_read(parsed.message) is None
    broken = received_parse(
        b"From: =?utf-8?q?broken\r\nSubject: =?x-unknown?b?????=\r\nContent-Type: text/plain;"
        b" charset=no-such-charset\r\n\r\n\xff\xfe body"
    )
    assert broken.looks_like_mail
    assert reply_text(broken.message)  # read as far as it goes


def test_a_reply_asks_to_stop_when_it_says_so_and_not_when_it_only_mentions_it() -> None:
    stops = [
        "STOP",
        "stop.",
        "Unsubscribe",
        "Remove me",
        "Opt out please",
        "Please remove me from your mailing list.",
        "Thanks, but take me off this list.",
        "We went with another vendor. Please stop emailing me.",
        "Do not contact me again",
        "don't email me",
    ]
    not_stops = [
        "",
        "Yes, Tuesday works.",
        "Please don't stop, this is useful.",
        "How do I unsubscribe my colleague?",
        "Stop by our booth at the fair on Monday!",
        "We need to stop losing leads. " + "Tell me more about routing. " * 4,
        "Remove the old contact from the invoice, please.",
    ]
    assert [t for t in stops if not asks_to_stop(t)] == []
    assert [t for t in not_stops if asks_to_stop(t)] == []
