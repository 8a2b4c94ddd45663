"""Outbound email: placeholders, the email outbox, the SMTP send job, the local sink.

Every send path (the "Email Customer" rule action, staff notifications) does the same three
steps inside the transaction of the change that caused it::

    from flask import current_app

    from helpdesk.mail.placeholders import find_errors, render
    from helpdesk.mail.services import queue_email
    from helpdesk.mail.values import placeholder_values

    # When the rule is saved: refuse unknown or unterminated placeholders.
    errors = find_errors(subject + "\\n" + body, custom_field_ids=[1, 2])

    # When the action runs:
    values = placeholder_values(ticket, current_app.config["HELPDESK_URL"])
    queue_email(
        ticket, ticket.customer.email,
        render(subject, values, "text"),
        render(body, values, "html" if is_html else "text"),
        kind="customer", rule=rule, html=is_html,
    )
    # ...the caller commits once; the send job is enqueued after the commit
    # (helpdesk/outbox.py), runs over SMTP (mail/jobs.py) and writes the outcome
    # ("Email 'subject' sent to x" or "... failed: 550 ...") into the request history.

A body such as ``<thermostat>/s/<survey key>?xrequest=##REQUESTID##&plan=##CUSTOM1##``
renders with the values percent-encoded, so the survey answer comes back to the request
with the custom field (see placeholders.py for the rules).

Modules: ``placeholders`` (pure Python, no Flask), ``values``, ``models`` (OutboundEmail),
``services`` (queue_email), ``jobs`` (send_email, sweep_emails), ``sink`` (the development
SMTP sink and the reader of what it caught), ``routes`` (Admin > Mail (dev)).
"""
