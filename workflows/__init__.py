"""What happens and when: every change to a dispute, the sweeps, messages and read models.

The packages, bottom up (``pyproject.toml``'s import contract holds them to this order):

- ``db``, ``errors``, ``settings``, ``runs``, ``rulesets``: engines and transactions, bad
  input, settings, runs of flows, the rule sets stored;
- ``org``: units and people, and the unit tree;
- ``messaging``: the outbox, its delivery, reminders and digests, the message texts;
- ``changes``: the one planner of everything an evaluation writes, and its writer;
- ``recording``, ``sweeps``, ``rollout``: reporting disputes and recording events; the
  escalation and cadence sweeps; new rules put in force;
- ``tasks``, ``views``: acknowledging tasks; the read models;
- ``engine``: when the sweeps run, directly or as Prefect flows, and their deployments.

Each package's ``__init__`` says what it offers; nothing reaches into another's modules.
"""
