"""Q4 (consigne 17b) — Quand Flask A est arrêté ?

A arrêté : l'adresse de A refuse, B répond toujours, et nginx répond à chacune des
requêtes envoyées juste après l'arrêt (sans attendre), toutes servies par B.
A est redémarré ensuite, et on mesure le temps avant que nginx lui renvoie du trafic.
"""

from labcheck import diagnostics


def test_q4_failover(lab, evidence):
    q4 = evidence("Q4")
    q4.precondition(
        diagnostics.direct(q4.references(), lab.wiring(), "précondition non remplie : ")
    )
    with lab.stopped("A") as stop:
        q4.stopped("A", stop)
        a = q4.probe("A", "A arrêté")
        b = q4.probe("B", "A arrêté")
        through = q4.probe_many("nginx", lab.lab.checks.requests, "A arrêté")
    q4.restarted("A")
    q4.measure_recovery("A", lab.lab.checks.recovery_timeout)
    q4.check(diagnostics.failover(a, b, through, lab.wiring()))
