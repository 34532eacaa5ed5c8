"""Q2 (consigne 17a) — Que se passe-t-il quand on arrête Flask ?

A répond ; on arrête Flask A comme avec Ctrl+C ; son adresse refuse alors la connexion.
A est redémarré ensuite, quoi qu'il arrive.
"""

from labcheck import diagnostics


def test_q2_stop(lab, evidence):
    q2 = evidence("Q2")
    before = q2.probe("A", "avant l'arrêt")
    q2.precondition(diagnostics.precondition(before, lab.wiring()))
    with lab.stopped("A") as stop:
        q2.stopped("A", stop)
        after = q2.probe("A", "A arrêté")
    q2.restarted("A")
    q2.check(diagnostics.stopped(after, lab.wiring()))
