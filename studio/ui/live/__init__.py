"""Live capture: a video or webcam streamed through the worker into the studio window.
It plugs into the window as a tool (:class:`studio.ui.live.controller.LiveController`)."""
