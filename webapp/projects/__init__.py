"""City projects: the questions the city asks, their dated stages and the gate every action asks.

A project ("how should our parks change?") has dated stages — proposals → review → voting →
results → implementation — and, for a participatory budget, money in pots. What a citizen may do
follows the stage in force (``stages.py``); ``gates.py`` refuses an action out of its stage with a
409 that says when the stage opens or why it closed. Project 1 is the permanent idea pool, open
for proposals and supports at all times. The pages, the expert review, the ballots and the
results live in ``webapp/campaigns/`` (above the ideas); this domain sits below the ideas so that
submitting and supporting can ask the gate.
"""
