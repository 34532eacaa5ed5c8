"""Q3 (consigne 16) — Que se passe-t-il via Nginx ?

On rafraîchit l'adresse de nginx plusieurs fois : les réponses alternent entre A et B.
Chaque réponse est attribuée à A ou à B par le message que chacun donne directement.
"""

from labcheck import diagnostics


def test_q3_alternation(lab, evidence):
    q3, wiring = evidence("Q3"), lab.wiring()
    q3.precondition(
        diagnostics.direct(q3.references(), wiring, "impossible d'attribuer les réponses : ")
    )
    responses = q3.probe_many("nginx", lab.lab.checks.requests)
    q3.facts["sequence"] = [o.server or "?" for o in responses]
    tolerance = lab.lab.checks.balance_tolerance
    q3.check(diagnostics.alternation(responses, tolerance, wiring))
