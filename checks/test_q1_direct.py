"""Q1 (consigne 6) — Que voit-on quand on lance Flask ?

Chaque serveur Flask répond 200 à sa propre adresse, avec son propre message.
"""

from labcheck import diagnostics


def test_q1_direct(lab, evidence):
    q1 = evidence("Q1")
    found = q1.references()
    q1.check(diagnostics.direct(found, lab.wiring()))
