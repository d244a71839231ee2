"""The physics of the cell model, one term per equation (see solver.model.assembly.Term).

  ohm             charge conservation in every conduction network, the tabs
  fick            lithium storage and diffusion in intercalation electrodes
  butler_volmer   the faradaic current at electrode | electrolyte interfaces
  surface         Fick across the half cell between an interface and its cell's centre
  ambipolar_insertion  the Li an ambipolar film takes in at its electronic contact
  nernst_planck   carriers of binary and dissociation electrolytes, and their half cells
  drive           the applied current or voltage
"""
