"""The only package that speaks SQL: tables, migrations, and one repository per aggregate.

``models`` (tables), ``db`` (engine, sessions, migrations), ``leads`` (a lead with its
answers, events and orders), ``touches`` (the scheduled-touches queue), ``privacy``
(erasure). Style: one repository class per aggregate on a caller's ``AsyncSession``; what
leaves for the services is plain data (frozen dataclasses, engine types), not ORM rows.
"""
