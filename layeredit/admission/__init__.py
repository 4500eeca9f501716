"""The one door every outside input comes through (files, archives, images, structured text).

- :mod:`~layeredit.admission.paths`: a file named inside a folder, resolved and kept there.
- :mod:`~layeredit.admission.archives`: a zip opened with its member names and sizes checked first.
- :mod:`~layeredit.admission.documents`: JSON text parsed into a bounded pydantic model, its
  problems told as one line naming the field (and the model of a batch manifest line).
- :mod:`~layeredit.admission.scenes`: the models of ``scene.json`` and ORA ``stack.xml``.
- :mod:`~layeredit.admission.sessions`: the model of a chat session's ``session.json``.
- :mod:`~layeredit.admission.outputs`: where a result may be written (never over an input or an
  existing file unless asked), and the leftovers of interrupted writes.
- :mod:`~layeredit.admission.names`: names made into file names and download headers.
- :mod:`~layeredit.admission.roots`: paths an agent, a chat or a tool names, kept under its root.

The package imports nothing of its own here, so the bottom layer (``imageio``) can use a part of it.
"""
