"""Page scripts run by ``st.navigation``. Each only calls the ``render()`` of its view; do not import them."""
