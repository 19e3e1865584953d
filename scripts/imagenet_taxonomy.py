"""Taxa of the ImageNet-1k arthropod classes, so answers can roll up to family, order or class.

Checked against standard entomology references (family and order placement as in Triplehorn &
Johnson, "Borror and DeLong's Introduction to the Study of Insects", and the World Spider Catalog).
A class whose photos span several families names only the ranks that hold for all of them.
"""


def _t(cls, order=None, family=None, species=None, common=None):
    lineage = {"class": cls}
    if order:
        lineage["order"] = order
    if family:
        lineage["family"] = family
    if species:
        lineage["species"] = species
    rank = "species" if species else "family" if family else "order" if order else "class"
    return {"rank": rank, "name": lineage[rank], "key": f"{rank}:{lineage[rank]}", "lineage": lineage}


ARACHNIDA = "Arachnida"
INSECTA = "Insecta"

ARTHROPOD_TAXA = {
    70: _t(ARACHNIDA, "Opiliones"),
    71: _t(ARACHNIDA, "Scorpiones"),
    72: _t(ARACHNIDA, "Araneae", "Araneidae", "Argiope aurantia"),
    73: _t(ARACHNIDA, "Araneae", "Araneidae", "Araneus cavaticus"),
    74: _t(ARACHNIDA, "Araneae", "Araneidae", "Araneus diadematus"),
    75: _t(ARACHNIDA, "Araneae", "Theridiidae", "Latrodectus mactans"),
    76: _t(ARACHNIDA, "Araneae", "Theraphosidae"),
    77: _t(ARACHNIDA, "Araneae", "Lycosidae"),
    78: _t(ARACHNIDA, "Ixodida"),
    79: _t("Chilopoda"),
    300: _t(INSECTA, "Coleoptera", "Carabidae"),  # tiger beetles: subfamily Cicindelinae
    301: _t(INSECTA, "Coleoptera", "Coccinellidae"),
    302: _t(INSECTA, "Coleoptera", "Carabidae"),
    303: _t(INSECTA, "Coleoptera", "Cerambycidae"),
    304: _t(INSECTA, "Coleoptera", "Chrysomelidae"),
    305: _t(INSECTA, "Coleoptera", "Scarabaeidae"),  # Scarabaeinae
    306: _t(INSECTA, "Coleoptera", "Scarabaeidae"),  # Dynastinae
    307: _t(INSECTA, "Coleoptera", "Curculionidae"),
    308: _t(INSECTA, "Diptera"),
    309: _t(INSECTA, "Hymenoptera", "Apidae"),
    310: _t(INSECTA, "Hymenoptera", "Formicidae"),
    311: _t(INSECTA, "Orthoptera", "Acrididae"),
    312: _t(INSECTA, "Orthoptera", "Gryllidae"),
    313: _t(INSECTA, "Phasmida"),
    314: _t(INSECTA, "Blattodea"),
    315: _t(INSECTA, "Mantodea"),
    316: _t(INSECTA, "Hemiptera", "Cicadidae"),
    317: _t(INSECTA, "Hemiptera", "Cicadellidae"),
    318: _t(INSECTA, "Neuroptera", "Chrysopidae"),
    319: _t(INSECTA, "Odonata"),  # dragonflies: infraorder Anisoptera
    320: _t(INSECTA, "Odonata"),  # damselflies: suborder Zygoptera
    321: _t(INSECTA, "Lepidoptera", "Nymphalidae", "Vanessa atalanta"),
    322: _t(INSECTA, "Lepidoptera", "Nymphalidae", "Aphantopus hyperantus"),
    323: _t(INSECTA, "Lepidoptera", "Nymphalidae", "Danaus plexippus"),
    324: _t(INSECTA, "Lepidoptera", "Pieridae"),
    325: _t(INSECTA, "Lepidoptera", "Pieridae"),  # Coliadinae
    326: _t(INSECTA, "Lepidoptera", "Lycaenidae"),
}
