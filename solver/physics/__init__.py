"""The equations, each in one place: Butler-Volmer kinetics, Arrhenius temperature laws."""
